// Zone maps of the authority pages (Leaflet, loaded from /vendor).
//   data-mode="show": draws data-geometry (GeoJSON) read-only.
//   data-mode="draw": each click adds a vertex; the closed polygon is written as GeoJSON into the
//   textarea named by data-target. Without JavaScript the textarea alone does the job.
//   data-current (draw mode): the perimeter being replaced, shown dashed under the new one.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function baseMap(element) {
    var map = L.map(element, { keyboard: true }).setView([48.8566, 2.3522], 13);
    var tiles = element.dataset.tiles;
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);
    }
    return map;
  }

  function show(element) {
    var map = baseMap(element);
    try {
      var layer = L.geoJSON(JSON.parse(element.dataset.geometry || "null"), { style: { color: "#000091", weight: 3 } });
      layer.addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [16, 16] });
    } catch (err) {
      element.setAttribute("hidden", "");
    }
  }

  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function rounded(value) {
    return Math.round(value * 1e6) / 1e6;
  }

  function draw(element) {
    var target = document.getElementById(element.dataset.target);
    if (!target) return;
    var map = baseMap(element);
    var vertices = [];  // [lat, lng]
    var markers = L.layerGroup().addTo(map);
    var shape = null;

    function write() {
      if (vertices.length < 3) { target.value = ""; return; }
      var ring = vertices.map(function (v) { return [rounded(v[1]), rounded(v[0])]; });
      ring.push(ring[0].slice());
      target.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    }

    function redraw() {
      markers.clearLayers();
      vertices.forEach(function (v) { L.circleMarker(v, { radius: 5, color: "#000091" }).addTo(markers); });
      if (shape) { map.removeLayer(shape); shape = null; }
      if (vertices.length >= 2) {
        shape = (vertices.length >= 3 ? L.polygon(vertices) : L.polyline(vertices)).addTo(map);
      }
      write();
    }

    // The current perimeter, and a polygon pasted or kept from a refused submission, are shown
    // dashed (they are not editable here: the clicks draw the new one).
    [element.dataset.current, target.value].forEach(function (text) {
      try {
        var existing = text && text.trim() ? JSON.parse(text) : null;
        if (existing) {
          var layer = L.geoJSON(existing, { style: { color: "#595959", dashArray: "4", fillOpacity: 0.1 } }).addTo(map);
          map.fitBounds(layer.getBounds(), { padding: [16, 16] });
        }
      } catch (err) { /* not JSON yet: the server will say why */ }
    });

    map.on("click", function (event) {
      vertices.push([event.latlng.lat, event.latlng.lng]);
      redraw();
    });

    var help = document.createElement("p");
    help.className = "map-help";
    help.textContent = element.dataset.labelHelp || "";
    var tools = document.createElement("div");
    tools.className = "map-tools";
    tools.appendChild(button(element.dataset.labelUndo || "Undo", function () { vertices.pop(); redraw(); }));
    tools.appendChild(button(element.dataset.labelClear || "Clear", function () { vertices = []; redraw(); }));
    element.parentNode.insertBefore(help, element);
    element.parentNode.insertBefore(tools, element.nextSibling);
    var details = document.getElementById("geojson-details");
    if (details && !target.value.trim()) details.removeAttribute("open");
  }

  ready(function () {
    if (typeof L === "undefined") return;  // Leaflet not installed: the textarea still works
    document.querySelectorAll(".zone-map").forEach(function (element) {
      element.textContent = " ";  // visible now that the map can be drawn
      if (element.dataset.mode === "draw") draw(element); else show(element);
    });
  });
})();
