"""The bundled embedders that turn text into vectors (MiniLM int8 ONNX, a static token table) and
their tokenizer. No network: the models ship in packages.
"""
