"""The control plane: decide (pure), switches, limits, approvals, versions, rollback, the service.

Import the parts directly (``andon.control.decide``...): ``decide`` needs neither the store nor pydantic.
"""
