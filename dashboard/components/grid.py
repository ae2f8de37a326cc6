"""``create_grid``: the one table every page uses (dash-ag-grid; sort, filter, CSV export)."""

from __future__ import annotations

import dash_ag_grid as dag

from dashboard.components.tables import FONT

#: In-app links in a grid cell: ``link(label, href)`` renders an anchor that Dash pages route
#: client-side (see ``assets/dashAgGridComponentFunctions.js``).
LINK_RENDERER = "AppLink"


def create_grid(
    grid_id: str,
    row_data: list[dict] | None = None,
    column_defs: list[dict] | None = None,
    *,
    page_size: int | None = None,
    filters: bool = False,
    export_name: str | None = None,
    compact: bool = False,
) -> dag.AgGrid:
    """A sortable grid sized to its rows; ``filters`` adds a filter box under each header;
    ``page_size`` paginates; ``export_name`` names the CSV that ``exportDataAsCsv`` writes."""
    options = {
        "domLayout": "autoHeight",
        "animateRows": False,
        "enableCellTextSelection": True,
        "ensureDomOrder": True,
        "suppressColumnVirtualisation": True,
        "suppressMovableColumns": True,
        "tooltipShowDelay": 300,
    }
    if page_size:
        options |= {
            "pagination": True,
            "paginationPageSize": page_size,
            "paginationPageSizeSelector": False,
        }
    return dag.AgGrid(
        id=grid_id,
        rowData=row_data or [],
        columnDefs=column_defs or [],
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "filter": filters,
            "floatingFilter": filters,
            "wrapText": True,
            "autoHeight": True,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
            "flex": 1,
            "minWidth": 110,
            "cellStyle": {"lineHeight": "1.35", "paddingTop": "4px", "paddingBottom": "4px"},
        },
        dashGridOptions=options,
        columnSize=None,
        csvExportParams={"fileName": export_name} if export_name else None,
        style={
            "height": None,  # autoHeight: the grid grows with its rows
            "fontFamily": FONT,
            "--ag-font-family": FONT,
            "--ag-font-size": "12px" if compact else "13px",
            "--ag-header-background-color": "#f4f6f8",
        },
        className="segmenta-grid",
    )
