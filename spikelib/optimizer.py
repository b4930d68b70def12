"""Adam as the reference implementation applies it (the model page, gradient).

The only difference from Keras' Adam is where epsilon sits:
step = lr * mhat / sqrt(vhat + eps) instead of lr * mhat / (sqrt(vhat) + eps).
With eps = 1e-8 this caps the step of a parameter with a tiny gradient at
lr * mhat * 1e4 instead of lr * mhat * 1e8, which the tuned rates assume.
"""

import keras
from keras import ops


class ReferenceAdam(keras.optimizers.Optimizer):
    """Adam with epsilon inside the square root."""

    def __init__(self, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 name="reference_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._m, self._v = self.add_optimizer_variables(variables, ["m", "v"])

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        m, v = self._m[index], self._v[index]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        m_hat = m / (1.0 - ops.power(ops.cast(self.beta_1, dtype), step))
        v_hat = v / (1.0 - ops.power(ops.cast(self.beta_2, dtype), step))
        self.assign_sub(variable, lr * m_hat / ops.sqrt(v_hat + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}
