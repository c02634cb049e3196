"""CartPole drawn with raylib from the C struct's fields (env.envs[0]), laid out like Gymnasium's."""

import math

from puffer_envs.render import Renderer

X_THRESHOLD = 2.4
TRACK = (120, 140, 140, 255)
CART = (0, 187, 187, 255)
POLE = (230, 180, 100, 255)
AXLE = (130, 130, 200, 255)


class CartPoleRenderer(Renderer):
    width, height = 600, 400
    fps = 50  # tau = 0.02 s: real time
    title = "Puffer CartPole"

    def draw(self, env) -> None:
        e = env.envs[0]
        scale = self.width / (2 * X_THRESHOLD)
        track_y = self.height - 100
        cart_x = e.x * scale + self.width / 2
        cart_w, cart_h, pole_len = 50.0, 30.0, scale * 1.0  # the pole is 2 * 0.5 long
        self.rect(0, track_y, self.width, 2, TRACK)
        self.rect(cart_x - cart_w / 2, track_y - cart_h / 2, cart_w, cart_h, CART)
        axle_y = track_y - cart_h / 4
        top = self.rl.Vector2(cart_x, axle_y)
        tip = self.rl.Vector2(cart_x + pole_len * math.sin(e.theta), axle_y - pole_len * math.cos(e.theta))
        self.rl.draw_line_ex(top, tip, 10.0, POLE)
        self.rl.draw_circle_v(top, 5.0, AXLE)
        self.text(f"step {e.tick}", 10, 10, 20)
