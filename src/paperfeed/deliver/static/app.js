// paperfeed: progressive enhancements only; every page reads without JavaScript.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("theme"); } catch (e) { /* private mode */ }
  if (saved === "dark" || saved === "light") root.setAttribute("data-theme", saved);

  function currentTheme() {
    var set = root.getAttribute("data-theme");
    if (set) return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) {
      toggle.hidden = false;
      var label = function () { toggle.setAttribute("aria-pressed", currentTheme() === "dark" ? "true" : "false"); };
      label();
      toggle.addEventListener("click", function () {
        var next = currentTheme() === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("theme", next); } catch (e) { /* ignore */ }
        label();
      });
    }
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) return;
        var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy BibTeX"; }, 1500); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.textContent).then(done, function () { select(source); });
        } else { select(source); document.execCommand && document.execCommand("copy"); done(); }
      });
    });
    if (window.renderMathInElement) {
      document.querySelectorAll("[data-math]").forEach(function (el) {
        window.renderMathInElement(el, {
          delimiters: [{left: "$$", right: "$$", display: true}, {left: "$", right: "$", display: false},
                       {left: "\\(", right: "\\)", display: false}, {left: "\\[", right: "\\]", display: true}],
          throwOnError: false
        });
      });
    }
  });

  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
})();
