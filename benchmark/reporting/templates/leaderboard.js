(function () {
  function key(cell) { return cell.getAttribute("data-value"); }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var numeric = th.getAttribute("data-type") === "number";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var pos = new Map(rows.map(function (r, i) { return [r, i]; }));
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]), c;
          if (numeric) {
            var fx = parseFloat(x), fy = parseFloat(y), nx = isNaN(fx), ny = isNaN(fy);
            if (nx || ny) { return nx === ny ? pos.get(a) - pos.get(b) : (nx ? 1 : -1); }
            c = fx - fy;
          } else {
            c = x < y ? -1 : (x > y ? 1 : 0);
          }
          if (dir === "descending") { c = -c; }
          return c || pos.get(a) - pos.get(b);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
