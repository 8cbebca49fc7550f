"""The SDK: ``Andon`` (local and connect modes), runs, the ``@tool`` guard, the spool.

Import the parts directly (``andon.sdk.client``...); ``import andon`` exposes ``andon.Andon`` lazily.
"""
