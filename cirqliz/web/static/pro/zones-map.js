// A small map of the zones on the application form. Optional: without JavaScript, without
// Leaflet or without tiles the checkbox list works alone. Clicking a zone ticks its checkbox.
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("zones-map");
    var data = document.getElementById("zones-data");
    if (!box || !data || typeof window.L === "undefined") return;
    var geojson;
    try { geojson = JSON.parse(data.textContent); } catch (e) { return; }
    if (!geojson.features || !geojson.features.length) return;
    box.hidden = false;
    var L = window.L;
    var map = L.map(box, { scrollWheelZoom: false, keyboard: false });
    var tiles = box.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);
    }
    var layers = {};
    // Names come from authorities, imports and feeds: Leaflet parses a string tooltip as HTML,
    // so the tooltip is an element holding the name as text.
    function label(properties) {
      var span = document.createElement("span");
      span.textContent = String(properties.name) + " (" + String(properties.code) + ")";
      return span;
    }
    function checkbox(id) { return document.getElementById("zone-" + id); }
    function paint(id) {
      var input = checkbox(id);
      var on = input && input.checked;
      layers[id].setStyle({ color: on ? "#000091" : "#555", weight: on ? 3 : 1, fillOpacity: on ? 0.35 : 0.1 });
    }
    var all = L.geoJSON(geojson, {
      onEachFeature: function (feature, layer) {
        var id = feature.properties.id;
        layers[id] = layer;
        layer.bindTooltip(label(feature.properties));
        layer.on("click", function () {
          var input = checkbox(id);
          if (input) { input.checked = !input.checked; paint(id); }
        });
      }
    }).addTo(map);
    Object.keys(layers).forEach(function (id) {
      paint(id);
      var input = checkbox(id);
      if (input) input.addEventListener("change", function () { paint(id); });
    });
    try { map.fitBounds(all.getBounds(), { padding: [10, 10] }); } catch (e) { box.hidden = true; }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
