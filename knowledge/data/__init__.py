"""Data files of the knowledge package: the Polish-English glossary, the default calibration."""
