"""The Streamlit viewer, shipped inside the package: ``ecgdl app`` starts it (:mod:`ecgdl.app.launch`).

``streamlit_app.py`` is the page (run as a script by Streamlit), ``ecg_figures.py`` turns
:mod:`ecgdl.view` arrays into Plotly figures, ``config.toml`` holds the server settings.
"""
