"""Pure rules of the reports: periods in the utility's calendar and the figures of a report."""
