"""Detectors over the ledger's event stream and the engine that runs them.

```python
from andon.detect import DetectorEngine, Signal, follow, Wakeup
engine = DetectorEngine(runbook, sink=print)     # or follow(db, sink=..., stop=...) to tail a store
engine.feed(read_events(conn, after_index=engine.last_index))
```
"""

from andon.detect.engine import DETECTORS, DetectorEngine
from andon.detect.follow import Wakeup, follow
from andon.detect.signal import Observed, Signal
from andon.detect.stats import chi2_sf, homogeneity

__all__ = ["DETECTORS", "DetectorEngine", "Observed", "Signal", "Wakeup", "chi2_sf", "follow", "homogeneity"]
