// paperfeed: progressive enhancements only; every page reads without JavaScript.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("theme"); } catch (e) { /* private mode */ }
  if (saved === "dark" || saved === "light") root.setAttribute("data-theme", saved);

  // Common arXiv macros (what authors define in their preambles), for every KaTeX render.
  var MACROS = {
    "\\R": "\\mathbb{R}", "\\N": "\\mathbb{N}", "\\Z": "\\mathbb{Z}", "\\Q": "\\mathbb{Q}",
    "\\C": "\\mathbb{C}", "\\F": "\\mathbb{F}", "\\E": "\\mathbb{E}", "\\P": "\\mathbb{P}",
    "\\RR": "\\mathbb{R}", "\\NN": "\\mathbb{N}", "\\ZZ": "\\mathbb{Z}", "\\QQ": "\\mathbb{Q}",
    "\\CC": "\\mathbb{C}", "\\EE": "\\mathbb{E}", "\\PP": "\\mathbb{P}",
    "\\bm": "\\boldsymbol{#1}", "\\bbm": "\\mathbbm{#1}", "\\mathbbm": "\\mathbb{#1}",
    "\\vect": "\\boldsymbol{#1}", "\\norm": "\\left\\lVert #1 \\right\\rVert",
    "\\abs": "\\left\\lvert #1 \\right\\rvert", "\\eps": "\\varepsilon",
    "\\argmin": "\\operatorname*{arg\\,min}", "\\argmax": "\\operatorname*{arg\\,max}",
    "\\Var": "\\operatorname{Var}", "\\Cov": "\\operatorname{Cov}", "\\tr": "\\operatorname{tr}",
    "\\poly": "\\operatorname{poly}", "\\polylog": "\\operatorname{polylog}",
    "\\textsc": "\\text{#1}", "\\emph": "\\textit{#1}", "\\cal": "\\mathcal",
    "\\mathds": "\\mathbb{#1}", "\\bbR": "\\mathbb{R}", "\\bbE": "\\mathbb{E}"
  };
  var DELIMITERS = [{left: "$$", right: "$$", display: true}, {left: "$", right: "$", display: false},
                    {left: "\\(", right: "\\)", display: false}, {left: "\\[", right: "\\]", display: true}];

  function renderMath(scope) {
    if (!window.renderMathInElement) return;
    var targets = scope.matches && scope.matches("[data-math]") ? [scope] : [];
    scope.querySelectorAll("[data-math]").forEach(function (el) { targets.push(el); });
    targets.forEach(function (el) {
      window.renderMathInElement(el, {
        delimiters: DELIMITERS, macros: Object.assign({}, MACROS), throwOnError: false,
        ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
        trust: false, maxExpand: 500, maxSize: 20
      });
    });
  }
  // Math in comments: the server set it apart as text in span.math, delimiters included.
  function renderSpans(scope) {
    if (!window.katex) return;
    scope.querySelectorAll("span.math:not([data-rendered])").forEach(function (span) {
      var display = span.classList.contains("display");
      var source = span.textContent;
      var cut = display ? 2 : 1;
      var tex = source.slice(cut, source.length - cut);
      try {
        window.katex.render(tex, span, {displayMode: display, macros: Object.assign({}, MACROS),
                                        throwOnError: false, trust: false, maxExpand: 500, maxSize: 20});
        span.setAttribute("data-rendered", "");
        span.setAttribute("title", source);
      } catch (e) { span.textContent = source; }
    });
  }
  window.paperfeedRenderMath = function (scope) { renderMath(scope); renderSpans(scope); };

  function currentTheme() {
    var set = root.getAttribute("data-theme");
    if (set) return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  // j/k move through the papers of a list, o or Enter opens one, u upvotes it.
  function keyboard() {
    var current = -1;
    function cards() { return Array.prototype.slice.call(document.querySelectorAll("#papers article.paper")); }
    function move(step) {
      var all = cards();
      if (!all.length) return;
      var at = all.indexOf(document.activeElement);
      current = Math.max(0, Math.min(all.length - 1, (at >= 0 ? at : current) + step));
      all.forEach(function (c) { c.classList.remove("current"); });
      var card = all[current];
      card.classList.add("current");
      card.setAttribute("tabindex", "-1");
      card.focus({preventScroll: true});
      card.scrollIntoView({block: "nearest"});
    }
    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      var target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      var card = target && target.closest ? target.closest("#papers article.paper") : null;
      var key = event.key;
      if (key === "j") move(1);
      else if (key === "k") move(-1);
      else if (key === "/") {
        var search = document.getElementById("quick-q") || document.getElementById("q");
        if (search && search.offsetParent !== null) search.focus(); else return;
      } else if ((key === "o" || (key === "Enter" && card === target)) && card) {
        var link = card.querySelector("h2 a");
        if (link) link.click();
      } else if (key === "u" && card) {
        var vote = card.querySelector(".vote-form button[aria-pressed=false]");
        if (vote) vote.click();
      } else return;
      event.preventDefault();
    });
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
    if (window.matchMedia && window.matchMedia("(min-width: 641px)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
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
    window.paperfeedRenderMath(document.body);
    keyboard();
  });
  // Math in what htmx brings in (a comment preview, more papers).
  document.addEventListener("htmx:afterSwap", function (event) { window.paperfeedRenderMath(event.target); });

  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
})();
