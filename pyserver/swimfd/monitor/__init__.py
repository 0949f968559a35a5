"""`swimfd monitor`: follow every member's view and serve it as a live web page.

state.py is the pure model (matrix, timeline, failure timings); collector.py
polls the members; web.py serves the page and pushes the model by SSE.
"""
