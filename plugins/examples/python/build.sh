#!/bin/sh
# Builds build/py_churn.wasm (a component, ~18 MB: it carries a Python interpreter).
# componentize-py comes from PyPI: pip install componentize-py==0.25.1
set -eu
cd "$(dirname "$0")"
mkdir -p build
componentize-py -d ../../../plugin-sdk/wit -w mutator-plugin componentize app -o build/py_churn.wasm
