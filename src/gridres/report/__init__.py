"""Result tables, figures, maps and the HTML report."""
