"""The web page (Streamlit): draw a digit, press Predict, give the true label, watch the stats.

`serve_command` starts it (`digit-knower serve`), `app` is the page itself, `canvas` the drawing
component, `views` the charts and tables. The page calls the predictor and the store only.
"""
