"""The review page (``/review``, ``routes``): judge an item's negatives in a browser, keyboard
first; ``page`` renders it."""
