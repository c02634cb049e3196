"""A NumpyCartPole whose every step also waits `step_ms` milliseconds: a stand-in for a slow simulator
(a physics engine, an emulator), where a worker's hand-off cost is small beside the step itself.
Bench worker processes and Ray actors import it by this module name."""

import time

from numpy_cartpole import NumpyCartPole


class Sleepy(NumpyCartPole):
    def __init__(self, step_ms: float = 1.0, **kwargs):
        self.step_s = step_ms / 1000
        super().__init__(**kwargs)

    def _step(self):
        time.sleep(self.step_s)
        super()._step()
