// Sextant web UI: small progressive enhancements; every page works without this script.
(function () {
  "use strict";

  // "/" focuses the search box, as in most tools; Escape leaves it.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      var search = document.querySelector(".filters input[name=q]") || document.getElementById("search");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "Escape" && typing) {
      target.blur();
    } else if ((event.key === "j" || event.key === "k") && !typing) {
      moveSelection(event.key === "j" ? 1 : -1);
    }
  });

  // SQL console: Ctrl+Enter (or Cmd+Enter) runs the query.
  var sqlBox = document.getElementById("sql");
  if (sqlBox) {
    sqlBox.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        sqlBox.form.submit();
      }
    });
  }

  // Trace page: selecting a span loads its content beside the tree without a reload.
  var spans = document.getElementById("spans");
  var detail = document.getElementById("detail");
  if (!spans || !detail) {
    return;
  }
  var traceId = location.pathname.split("/")[2];

  function select(row, push) {
    var spanId = row.getAttribute("data-span");
    var previous = spans.querySelector(".selected");
    if (previous) {
      previous.classList.remove("selected");
    }
    row.classList.add("selected");
    // aria-busy is "false" once the requested span is in place (tests wait on it).
    detail.setAttribute("aria-busy", "true");
    fetch("/traces/" + traceId + "/spans/" + spanId)
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (!row.classList.contains("selected")) {
          return; // a later selection superseded this one
        }
        detail.innerHTML = html;
        detail.setAttribute("aria-busy", "false");
        if (push) {
          var url = new URL(location.href);
          url.searchParams.set("span", spanId);
          history.pushState({ span: spanId }, "", url);
        }
      })
      .catch(function () {
        location.href = row.querySelector("a").href;
      });
  }

  function moveSelection(step) {
    var rows = Array.prototype.slice.call(spans.querySelectorAll(".span-row"));
    var current = rows.indexOf(spans.querySelector(".selected"));
    var next = rows[Math.min(Math.max(current + step, 0), rows.length - 1)];
    if (next) {
      select(next, true);
      next.scrollIntoView({ block: "nearest" });
    }
  }

  spans.addEventListener("click", function (event) {
    var link = event.target.closest("a.span-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    select(link.closest(".span-row"), true);
  });

  window.addEventListener("popstate", function () {
    var spanId = new URL(location.href).searchParams.get("span");
    var row = spanId && spans.querySelector('[data-span="' + spanId + '"]');
    if (row) {
      select(row, false);
    }
  });
})();
