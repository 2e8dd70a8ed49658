"""From stored run records to tables, figures, the HTML page, comparisons and reproduction
checks. ``report`` never trains; ``reproduce`` drives the runner."""
