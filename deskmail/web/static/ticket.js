/* Ticket page enhancements (vendored, no inline script; the page works without it):
     a[data-insert="<element id>"]  appends that (hidden) element's text to the reply box
                                    instead of reloading the page with ?insert=...           */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-insert]") : null;
    if (!link) { return; }
    var source = document.getElementById(link.getAttribute("data-insert"));
    var box = document.getElementById("reply");
    if (!source || !box) { return; }
    event.preventDefault();
    var text = source.textContent;
    box.value = box.value.replace(/\s+$/, "") + (box.value.trim() ? "\n\n" : "") + text;
    box.focus();
    box.scrollIntoView({ block: "center" });
  });
})();
