/* Uploads go to the server as a file stream (POST /upload), never as base64 inside a Dash
 * callback: the server stores them with a size limit before reading them (dashboard/uploads.py).
 * The Data page's dcc.Upload stays as the drop zone and file chooser; this script takes the
 * chosen file before dcc.Upload reads it, posts it, and puts the server's answer in the
 * "data-upload-result" store ({dataset_id, filename, columns} or {error}). */
(function () {
  "use strict";
  var ZONE = "data-upload";
  var RESULT = "data-upload-result";

  function zoneOf(target) {
    return target && target.closest ? target.closest("#" + ZONE) : null;
  }

  function answer(data) {
    window.dash_clientside.set_props(RESULT, { data: data });
  }

  function send(file) {
    answer({ uploading: file.name, at: Date.now() });
    fetch("/upload", {
      method: "POST",
      body: file,
      credentials: "same-origin",
      headers: {
        "X-Filename": encodeURIComponent(file.name),
        "Content-Type": "application/octet-stream",
      },
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return { error: "The server refused the upload (HTTP " + response.status + ")." };
          });
      })
      .then(function (data) {
        data.at = Date.now();
        answer(data);
      })
      .catch(function () {
        answer({ error: "The upload did not reach the server; check the connection and try again.", at: Date.now() });
      });
  }

  window.addEventListener(
    "change",
    function (event) {
      var input = event.target;
      if (!zoneOf(input) || input.type !== "file") return;
      event.stopPropagation();
      if (input.files && input.files.length) send(input.files[0]);
      input.value = "";
    },
    true
  );
  window.addEventListener(
    "drop",
    function (event) {
      if (!zoneOf(event.target)) return;
      event.preventDefault();
      event.stopPropagation();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (files && files.length) send(files[0]);
    },
    true
  );
})();
