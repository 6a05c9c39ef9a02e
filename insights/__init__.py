"""Insights: what visual search sells. Records searches, click-throughs, adds to bag and orders
(buffered, off the request's path), shows them per day to staff at /admin/insights/, groups the
photos that found nothing close into themes, and finds duplicate products. Listens to the other
apps' signals; nothing imports it."""
