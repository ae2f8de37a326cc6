/* Cell renderers for dash-ag-grid (registered by name in the columnDefs' cellRenderer). */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

/* An in-app link: navigates like dcc.Link (client-side, Dash pages re-render the page with
   the new query string); the cell value is the label, colDef.cellRendererParams.href a
   template where {value} is replaced by the cell value. */
dagcomponentfuncs.AppLink = function (props) {
  var href = props.colDef.cellRendererParams.href.replace(
    "{value}",
    encodeURIComponent(props.value)
  );
  return React.createElement(
    "a",
    {
      href: href,
      onClick: function (event) {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) {
          return; // let the browser open a new tab or window
        }
        event.preventDefault();
        window.history.pushState({}, "", href);
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        window.scrollTo(0, 0);
      },
    },
    props.value
  );
};
