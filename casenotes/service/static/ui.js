/* casenotes review UI: highlight a result's citations, and review flags and results in place.
   Plain JavaScript, no dependencies; every form also works without it. */
(function () {
  "use strict";

  var announcer = null;
  function announce(message) {
    if (!announcer) announcer = document.getElementById("announcer");
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = message; }, 50);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* -- citation highlighting ------------------------------------------------------------- */

  function setupHighlights() {
    var text = document.querySelector("[data-note-text]");
    if (!text) return;
    var clearButton = document.querySelector(".js-clear");
    var active = null;

    function clear() {
      text.classList.remove("has-active");
      text.className = text.className.replace(/\bactive-c\d+\b/g, "").trim();
      text.querySelectorAll(".hl.is-active").forEach(function (el) { el.classList.remove("is-active"); });
      document.querySelectorAll(".js-show[aria-pressed='true']").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
      document.querySelectorAll(".result-card.is-active").forEach(function (c) { c.classList.remove("is-active"); });
      if (clearButton) clearButton.hidden = true;
      active = null;
    }

    function select(key, scrollCard) {
      var button = document.querySelector('.js-show[data-show="' + key + '"]');
      if (!button) return;
      clear();
      var spans = text.querySelectorAll('[data-results~="' + key + '"]');
      text.classList.add("has-active", "active-c" + button.getAttribute("data-colour"));
      spans.forEach(function (el) { el.classList.add("is-active"); });
      button.setAttribute("aria-pressed", "true");
      var card = document.getElementById("card-" + key);
      if (card) card.classList.add("is-active");
      if (clearButton) clearButton.hidden = false;
      active = key;
      if (spans.length) spans[0].scrollIntoView({ block: "center", behavior: "smooth" });
      if (scrollCard && card) card.scrollIntoView({ block: "nearest", behavior: "smooth" });
      announce(button.getAttribute("data-label") + ": " + spans.length + " highlighted " +
               (spans.length === 1 ? "run" : "runs") + " of cited text");
    }

    document.addEventListener("click", function (event) {
      var button = event.target.closest(".js-show");
      if (button) {
        var key = button.getAttribute("data-show");
        if (active === key) { clear(); announce("All highlights shown"); } else { select(key, false); }
        return;
      }
      var span = event.target.closest(".hl");
      if (span && text.contains(span)) {
        var keys = span.getAttribute("data-results").split(" ");
        var next = keys[(keys.indexOf(active) + 1) % keys.length];  // clicking again cycles overlapping results
        select(next, true);
      }
    });
    if (clearButton) clearButton.addEventListener("click", function () { clear(); announce("All highlights shown"); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && active) { clear(); announce("All highlights shown"); }
    });
  }

  /* -- reviews in place ------------------------------------------------------------------ */

  function label(value) {
    value = String(value || "").replace(/-/g, " ");
    return value.charAt(0).toUpperCase() + value.slice(1);
  }

  function showOutcome(item, outcome) {
    var state = item.querySelector("[data-review-status]");
    if (!state) return;
    var badge = state.querySelector("[data-status-badge]");
    var decision = outcome.status && !outcome.decision ? outcome.status : outcome.decision;
    badge.textContent = label(decision);
    badge.className = "badge badge-" + decision;
    var reviewer = state.querySelector("[data-reviewer]");
    if (reviewer) reviewer.textContent = outcome.reviewer ? "by " + outcome.reviewer : "";
    var correction = state.querySelector("[data-correction]");
    if (correction) {
      var fixed = outcome.decision === "corrected" ? (outcome.status ? label(outcome.status) : "level " + outcome.level) : "";
      correction.textContent = fixed ? "to " + fixed : "";
    }
    var comment = state.querySelector("[data-comment]");
    if (comment) comment.textContent = outcome.comment || "";
    state.hidden = false;
  }

  function flagReviewed(form, outcome) {
    var item = form.closest("[data-item]");
    showOutcome(item, outcome);
    form.hidden = true;
    var value = item.querySelector("[data-value]");
    if (value) { value.textContent = label(outcome.status); value.className = value.className.replace(/badge-\S+/, "badge-" + outcome.status); }
    if (item.classList.contains("queue-row")) {
      item.classList.add("is-done");
      item.classList.remove("status-open");
      item.classList.add("status-" + outcome.status);
      var count = document.getElementById("flag-count");
      if (count && count.getAttribute("data-status") === "open") {
        var left = document.querySelectorAll(".queue-row.status-open").length;
        var strong = count.querySelector("strong");
        if (strong) strong.textContent = String(left);
      }
      var state = item.querySelector("[data-review-status]");
      if (state) { state.setAttribute("tabindex", "-1"); state.focus(); }
    }
    announce("Flag " + outcome.status + (outcome.comment ? " with comment: " + outcome.comment : ""));
  }

  function resultReviewed(form, outcome) {
    var item = form.closest("[data-item]");
    showOutcome(item, outcome);
    var comment = form.querySelector('input[name="comment"]');
    if (comment) comment.value = "";
    var details = form.querySelector("details");
    if (details) details.open = false;
    announce("Result " + outcome.decision + (outcome.comment ? " with comment: " + outcome.comment : ""));
  }

  function setupReviews() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("js-review") || !window.fetch) return;
      event.preventDefault();
      var submitter = event.submitter;
      var data = new FormData(form);
      if (submitter && submitter.name) data.append(submitter.name, submitter.value);
      var error = form.querySelector(".form-error");
      var buttons = Array.prototype.filter.call(form.elements, function (el) { return el.tagName === "BUTTON"; });
      buttons.forEach(function (b) { b.disabled = true; });
      if (error) { error.hidden = true; error.textContent = ""; }
      fetch(form.action, {
        method: "POST", credentials: "same-origin", body: new URLSearchParams(data),
        headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            var detail = typeof body.detail === "string" ? body.detail : "The review was not saved (" + response.status + ").";
            throw new Error(detail);
          }
          if (form.getAttribute("data-kind") === "flag") flagReviewed(form, body); else resultReviewed(form, body);
        });
      }).catch(function (err) {
        if (error) { error.textContent = err.message || "The review was not saved."; error.hidden = false; }
      }).then(function () {
        buttons.forEach(function (b) { b.disabled = false; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupHighlights();
    setupReviews();
  });
})();
