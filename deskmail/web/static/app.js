/* Deskmail UI: small progressive enhancements. Every page works without this file.
   No inline handlers anywhere: the Content-Security-Policy forbids them, so behaviour is
   attached here by data attributes:
     form[data-confirm]   asks before submitting (destructive actions)
     [data-autosubmit]    submits its form on change (queue filters)
     table[data-keynav]   j/k move between rows with data-href, Enter or o opens one
     [data-search]        "/" focuses it
     [data-note]          "n" focuses it (ticket page)
     [data-back]          "u" follows it (back to the queue)
     [data-select]        a click selects its text (new API token)                        */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      if (field.form.requestSubmit) { field.form.requestSubmit(); } else { field.form.submit(); }
    }
  });

  document.addEventListener("click", function (event) {
    var node = event.target;
    if (node.hasAttribute && node.hasAttribute("data-select")) {
      var range = document.createRange();
      range.selectNodeContents(node);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  });

  function rows() {
    var table = document.querySelector("table[data-keynav]");
    return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]")) : [];
  }

  function current(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("is-current")) { return i; }
    }
    return -1;
  }

  function move(step) {
    var list = rows();
    if (!list.length) { return; }
    var index = current(list);
    var next = index < 0 ? 0 : Math.min(Math.max(index + step, 0), list.length - 1);
    if (index >= 0) {
      list[index].classList.remove("is-current");
      list[index].removeAttribute("aria-selected");
    }
    list[next].classList.add("is-current");
    list[next].setAttribute("aria-selected", "true");
    list[next].scrollIntoView({ block: "nearest" });
  }

  function open() {
    var list = rows();
    var index = current(list);
    if (index >= 0) { window.location.assign(list[index].getAttribute("data-href")); }
  }

  function focus(selector) {
    var node = document.querySelector(selector);
    if (node) { node.focus(); if (node.select) { node.select(); } return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": case "o":
        if (current(rows()) < 0) { return; }
        open(); break;
      case "/":
        if (!focus("[data-search]")) { return; }
        break;
      case "n":
        if (!focus("[data-note]")) { return; }
        break;
      case "u": {
        var back = document.querySelector("[data-back]");
        if (!back) { return; }
        window.location.assign(back.getAttribute("href"));
        break;
      }
      default: return;
    }
    event.preventDefault();
  });
})();
