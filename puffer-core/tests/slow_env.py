"""A CartPole whose env seeded 1 (mod 4) is slow, so EnvPool-style async batches come back out of
order. Shared by the threads and multiprocessing tests; worker processes import it by this name."""

import time

from numpy_cartpole import NumpyCartPole


class Slow(NumpyCartPole):
    delay = 0.1  # seconds per step of the slow env

    def _reset(self, seed):
        self.slow = seed is not None and seed % 4 == 1
        super()._reset(seed)

    def _step(self):
        if self.slow:
            time.sleep(self.delay)
        super()._step()


class GilFreeSlow(Slow):
    """For the threads backend, which requires the flag (time.sleep does release the GIL)."""

    releases_gil = True
    delay = 0.05
