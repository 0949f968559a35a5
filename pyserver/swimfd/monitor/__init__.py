"""`swimfd monitor`: follow every member's view and serve it as a live web page.

state.py is the pure model (matrix, timeline, failure timings); collector.py
follows the members' Watch streams and polls them; web.py serves the page and pushes the model by SSE.
"""
