"""Incidents: lifecycle, checklists, regulatory clocks and regimes, containment, review."""
