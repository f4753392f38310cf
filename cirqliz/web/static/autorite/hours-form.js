// The hours form (templates/autorite/_hours_fields.html): typing in the lines or in the advanced
// text chooses the matching mode, so that what was typed is what is saved. Without JavaScript
// the radio buttons do the same job.
(function () {
  "use strict";

  function choose(fieldset, mode) {
    var radio = fieldset.querySelector('input[name="hours_mode"][value="' + mode + '"]');
    if (radio && !radio.checked) radio.checked = true;
  }

  function watch(fieldset) {
    fieldset.addEventListener("input", function (event) {
      var name = event.target.name || "";
      if (name === "opening_hours") choose(fieldset, "osm");
      else if (/^w\d+_/.test(name) || name === "holidays") choose(fieldset, "windows");
    });
    fieldset.addEventListener("change", function (event) {
      var name = event.target.name || "";
      if (/^w\d+_/.test(name) || name === "holidays") choose(fieldset, "windows");
    });
  }

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    document.querySelectorAll("fieldset.hours").forEach(watch);
  });
})();
