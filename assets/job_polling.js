/* Keep polling a background job across a server restart or a lost connection.
 *
 * Dash's renderer polls a running background callback with requests to _dash-update-component
 * carrying ?cacheKey=...; if one of those requests fails (server down, 502/503/504 from a
 * proxy) the renderer gives up and the progress bar stays forever. Here such a poll is retried
 * every 2 s for up to 3 minutes, so once the server is back the next poll reaches it, and the
 * server (dashboard/background.py) answers that the job ended and why. Other requests are
 * untouched. */
(function () {
  "use strict";
  var original = window.fetch;
  var RETRY_MS = 2000;
  var GIVE_UP_MS = 180000;

  function wait(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    if (url.indexOf("_dash-update-component") === -1 || url.indexOf("cacheKey=") === -1) {
      return original.apply(this, arguments);
    }
    var self = this;
    var args = arguments;
    var deadline = Date.now() + GIVE_UP_MS;

    function attempt() {
      return original.apply(self, args).then(
        function (response) {
          if (response.status >= 502 && response.status <= 504 && Date.now() < deadline) {
            return wait(RETRY_MS).then(attempt);
          }
          return response;
        },
        function (error) {
          if (Date.now() < deadline) return wait(RETRY_MS).then(attempt);
          throw error;
        }
      );
    }
    return attempt();
  };
})();
