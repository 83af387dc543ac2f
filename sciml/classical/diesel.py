"""Mean-value model of a heavy-duty diesel engine with a variable-geometry turbocharger (VGT) and exhaust gas
recirculation (EGR): the reference simulator.

The model is Wahlström & Eriksson's: J. Wahlström, L. Eriksson, "Modelling engines with a variable-geometry
turbocharger and exhaust gas recirculation by optimization of model parameters for capturing non-linear
system dynamics", Proc. IMechE Part D: J. Automobile Engineering 225(7):960-986 (2011). Equation numbers
below are the paper's. The parameter values (:data:`PARAMETERS`) are those of the parameter set the authors
released with their model (package TCDI_EGR_VGT, Vehicular Systems, Linköping University): a six-cylinder
12.74 L engine. The paper's text quotes tuned manifold volumes V_im = 45 dm^3 and V_em = 23 dm^3; the
released set, used here, has 22 and 20 dm^3.

States ``x`` (:data:`STATES`): intake and exhaust manifold pressures p_im, p_em [Pa], their oxygen mass
fractions X_Oim, X_Oem [-], the turbocharger speed omega_t [rad/s], the two EGR actuator states
ut_egr1, ut_egr2 [%] (an overshoot model) and the VGT actuator state ut_vgt [%]. Commands
(:data:`COMMANDS`): fuel u_delta [mg/cycle], EGR valve u_egr [%], VGT u_vgt [%], engine speed n_e [rpm].

    dp_im/dt    = R_a T_im / V_im (W_c + W_egr - W_ei)                                  (6)
    dp_em/dt    = R_e T_em / V_em (W_eo - W_t - W_egr)                                  (6)
    dX_Oim/dt   = R_a T_im / (p_im V_im) ((X_Oem - X_Oim) W_egr + (X_Oc - X_Oim) W_c)   (9)
    dX_Oem/dt   = R_e T_em / (p_em V_em) (X_Oe - X_Oem) W_eo                            (9)
    domega_t/dt = (P_t eta_m - P_c) / (J_t omega_t)                                      (42)
    dut_egr1/dt = (u_egr(t - tau_degr) - ut_egr1) / tau_egr1,  same for ut_egr2 with tau_egr2
    dut_vgt/dt  = (u_vgt(t - tau_dvgt) - ut_vgt) / tau_vgt

with the flows and powers of :func:`signals` (cylinder (11)-(16), exhaust temperature (17)-(25), EGR valve
(32)-(41), turbine (42)-(57), compressor (58)-(72)). The oxygen fractions do not feed back into the other
states, so dropping them leaves an exact 6-state model (:data:`REDUCED`).

The implicit exhaust-temperature equations (the residual gas fraction x_r and the temperature T_1 at
intake valve closing, (24)) are solved to convergence at every evaluation by fixed-point iteration
(or taken as given, with their residual, by a twin that learns them: :func:`signals`).
The commands are known functions of time (:class:`Commands`); the actuators see the EGR and VGT commands
through their time delays. :func:`simulate` integrates piecewise between the commands' breakpoints (and
the same shifted by the delays) with SciPy's LSODA (switching to BDF where stiff).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import root

CITATION = ("Wahlström & Eriksson (2011), Proc. IMechE Part D 225(7):960-986; parameter set released with the "
            "authors' model package TCDI_EGR_VGT (Vehicular Systems, Linköping University)")

PARAMETERS: dict[str, tuple[Any, str, str]] = {
    # name: (value, unit, meaning) -- the released parameter set (see the module docstring)
    "c_pa": (1011.0, "J/(kg K)", "specific heat of air at constant pressure"),
    "c_pe": (1332.0, "J/(kg K)", "specific heat of exhaust gas at constant pressure"),
    "c_va": (724.0, "J/(kg K)", "specific heat of air at constant volume"),
    "R_a": (287.0, "J/(kg K)", "gas constant of air"),
    "R_e": (286.0, "J/(kg K)", "gas constant of exhaust gas"),
    "gamma_a": (1.3964088397790055, "1", "specific heat ratio of air"),
    "gamma_e": (1.2734225621414914, "1", "specific heat ratio of exhaust gas"),
    "T_amb": (298.4636219512196, "K", "ambient temperature"),
    "p_amb": (101111.34146341463, "Pa", "ambient pressure"),
    "V_im": (0.022, "m^3", "intake manifold volume"),
    "T_im": (300.6185731707316, "K", "intake manifold temperature"),
    "V_em": (0.02, "m^3", "exhaust manifold volume"),
    "r_c": (17.0, "1", "compression ratio"),
    "V_d": (0.01274, "m^3", "displaced volume"),
    "q_HV": (42.9e6, "J/kg", "heating value of the fuel"),
    "AFs": (14.57, "1", "stoichiometric air-fuel ratio"),
    "n_cyl": (6, "1", "number of cylinders"),
    "X_Oc": (0.2314, "1", "oxygen mass fraction of air"),
    "T_w": (298.4636219512196, "K", "exhaust pipe wall temperature"),
    "d_pipe": (0.1, "m", "exhaust pipe diameter"),
    "l_pipe": (1.0, "m", "exhaust pipe length"),
    "n_pipe": (2, "1", "number of exhaust pipes"),
    "c_vol1": (-0.00020816619843224996, "Pa^-1/2", "volumetric efficiency coefficient of sqrt(p_im)"),
    "c_vol2": (-0.0034465158052700592, "rpm^-1/2", "volumetric efficiency coefficient of sqrt(n_e)"),
    "c_vol3": (1.1497021021059144, "1", "volumetric efficiency constant"),
    "eta_sc": (1.1015294624801442, "1", "compensation factor of the Seliger cycle's non-ideal cycles"),
    "x_cv": (2.3370584441920436e-14, "1", "fraction of the fuel burnt at constant volume"),
    "h_tot": (96.27545984019156, "W/(m^2 K)", "total heat transfer coefficient of the exhaust pipes"),
    "A_egrmax": (0.0004, "m^2", "maximum effective area of the EGR valve"),
    "PI_egropt": (0.6500040483261396, "1", "optimal pressure ratio of the EGR flow function"),
    "c_egr1": (-0.00011104237992346043, "%^-2", "EGR area coefficient of ut_egr^2"),
    "c_egr2": (0.01778061228607777, "%^-1", "EGR area coefficient of ut_egr"),
    "c_egr3": (0.0, "1", "EGR area constant"),
    "K_egr": (1.8, "1", "EGR actuator overshoot factor"),
    "tau_egr1": (0.05, "s", "time constant of EGR actuator state 1"),
    "tau_egr2": (0.13, "s", "time constant of EGR actuator state 2"),
    "tau_degr": (0.065, "s", "time delay of the EGR actuator"),
    "A_vgtmax": (0.0008455767262643882, "m^2", "maximum effective area of the VGT"),
    "K_t": (2.89019266110711, "1", "turbine flow exponent"),
    "c_f1": (1.9479627004385558, "1", "VGT area function coefficient"),
    "c_f2": (-0.7763118932867504, "1", "VGT area function constant"),
    "c_vgt1": (126.87193572285548, "%", "VGT area function width"),
    "c_vgt2": (117.14474688230767, "%", "VGT area function centre"),
    "tau_vgt": (0.025, "s", "time constant of the VGT actuator"),
    "tau_dvgt": (0.04, "s", "time delay of the VGT actuator"),
    "R_t": (0.04, "m", "turbine blade radius"),
    "eta_tmmax": (0.818002726891074, "1", "maximum turbine mechanical efficiency"),
    "BSR_opt": (0.9755203161802092, "1", "optimal blade speed ratio"),
    "c_m1": (1.3563440681098633, "(rad/s)^-c_m3", "turbine efficiency curvature coefficient"),
    "c_m2": (2769.2092015766916, "rad/s", "turbine speed where the efficiency curvature vanishes"),
    "c_m3": (0.010000098744565608, "1", "turbine efficiency curvature exponent"),
    "w_tlin": (2796.9012935924584, "rad/s", "turbine speed below which the curvature is linear"),
    "c_mlin": (1.4021470818125312, "1", "turbine efficiency curvature at w_tlin"),
    "J_t": (0.0002, "kg m^2", "turbocharger inertia"),
    "R_c": (0.04, "m", "compressor blade radius"),
    "c_wpsi1": (1.0882051052898697e-08, "(rad/s)^-2", "compressor c_psi1 coefficient of omega_t^2"),
    "c_wpsi2": (-0.00017319760359675625, "(rad/s)^-1", "compressor c_psi1 coefficient of omega_t"),
    "c_wpsi3": (1.0286164756408622, "1", "compressor c_psi1 constant"),
    "c_wphi1": (-1.4297782685109732e-08, "(rad/s)^-2", "compressor c_phi1 coefficient of omega_t^2"),
    "c_wphi2": (-0.0015498814145503597, "(rad/s)^-1", "compressor c_phi1 coefficient of omega_t"),
    "c_wphi3": (29.646172151290827, "1", "compressor c_phi1 constant"),
    "c_psi2": (0.0, "1", "compressor head parameter offset"),
    "c_phi2": (0.0, "1", "compressor flow parameter offset"),
    "eta_cmax": (0.7363607879724583, "1", "maximum compressor efficiency"),
    "w_copt": (0.27533757461959213, "kg/s", "compressor mass flow of maximum efficiency"),
    "pi_copt": (1.045517746825637, "1", "compressor pressure-ratio term of maximum efficiency"),
    "c_pi": (0.2707594738764899, "1", "compressor pressure-ratio exponent"),
    "Q_c11": (3.091897768531849, "(s/kg)^2", "compressor efficiency matrix, flow-flow entry"),
    "Q_c12": (-2.4823201383170015, "s/kg", "compressor efficiency matrix, off-diagonal entry"),
    "Q_c22": (2.1478559620438133, "1", "compressor efficiency matrix, pressure-pressure entry"),
}
"""The model's parameters: name -> (value, unit, meaning), from :data:`CITATION`. Vectors of the released
set are split into their entries (c_volVec -> c_vol1..3, c_egr -> c_egr1..3, c_mVec -> c_m1..3,
c_wpsiVec -> c_wpsi1..3, c_wphiVec -> c_wphi1..3, Q_c -> Q_c11, Q_c12, Q_c22); the set's initial values,
and its entries for the torque model (eta_igch, c_fricVec), c_ve and gamma_c, are not used by the states."""

DEFAULTS: dict[str, Any] = {name: value for name, (value, _, _) in PARAMETERS.items()}

STATES = ("p_im", "p_em", "X_Oim", "X_Oem", "omega_t", "ut_egr1", "ut_egr2", "ut_vgt")
REDUCED = ("p_im", "p_em", "omega_t", "ut_egr1", "ut_egr2", "ut_vgt")
"""The 6-state model: the oxygen fractions dropped (they do not feed back)."""
STATE_UNITS = {"p_im": "Pa", "p_em": "Pa", "X_Oim": "1", "X_Oem": "1", "omega_t": "rad/s", "ut_egr1": "%",
               "ut_egr2": "%", "ut_vgt": "%"}
COMMANDS = ("u_delta", "u_egr", "u_vgt", "n_e")
COMMAND_RANGES = {"u_delta": (1.0, 250.0, "mg/cycle"), "u_egr": (0.0, 100.0, "%"), "u_vgt": (20.0, 100.0, "%"),
                  "n_e": (500.0, 2000.0, "rpm")}
"""Physical range (min, max, unit) of each command."""
RANDOM_RANGES = {"u_delta": (60.0, 200.0), "u_egr": (0.0, 80.0), "u_vgt": (25.0, 90.0), "n_e": (1000.0, 1900.0)}
"""Where :meth:`Commands.random` draws its commands (uniformly), inside :data:`COMMAND_RANGES`."""
STATE_SCALE = np.array([1e5, 1e5, 0.1, 0.1, 1e4, 100.0, 100.0, 100.0])
"""Typical magnitude of each state in :data:`STATES`, for absolute tolerances."""


# ----------------------------------------------------------------------------------------------
# elementary operations on Python floats, NumPy arrays or torch tensors alike
# ----------------------------------------------------------------------------------------------
class _FloatOps:
    sqrt, exp = staticmethod(math.sqrt), staticmethod(math.exp)

    @staticmethod
    def clip(x, lo=-math.inf, hi=math.inf):
        return min(max(x, lo), hi)

    @staticmethod
    def size(x):
        return abs(x)


class _NumpyOps:
    sqrt, exp = staticmethod(np.sqrt), staticmethod(np.exp)

    @staticmethod
    def clip(x, lo=-math.inf, hi=math.inf):
        return np.clip(x, lo, hi)

    @staticmethod
    def size(x):
        return float(np.max(np.abs(x)))


class _TorchOps:
    @staticmethod
    def sqrt(x):
        """sqrt(x), 0 where x <= 0 with a zero gradient there (a plain sqrt's infinite slope at 0 times a
        clipped argument's zero gradient would make the gradient NaN)."""
        import torch
        return torch.sqrt(x.clamp_min(torch.finfo(x.dtype).tiny))

    @staticmethod
    def exp(x):
        import torch
        return torch.exp(x)

    @staticmethod
    def clip(x, lo=-math.inf, hi=math.inf):
        import torch
        return torch.minimum(torch.maximum(x, torch.as_tensor(lo, dtype=x.dtype)), torch.as_tensor(hi, dtype=x.dtype))

    @staticmethod
    def size(x):
        return float(x.detach().abs().max())


def _ops(x):
    if isinstance(x, float):
        return _FloatOps
    if isinstance(x, np.ndarray):
        return _NumpyOps
    return _TorchOps


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------
def _cycle(p: Mapping[str, Any], pi_e, fuel_heat, x_r, T_1) -> tuple[Any, Any, Any]:
    """One pass of the Seliger cycle with residual gas (17)-(25): from a residual gas fraction ``x_r`` and a
    temperature ``T_1`` [K] at intake valve closing, the x_r they give, the cylinder-out temperature T_e [K]
    and the T_1 [K] these give. ``pi_e`` is p_em / p_im, ``fuel_heat`` W_f q_HV / W_eo [J/kg]."""
    ga, x_cv, c_pa, c_va, r_c = p["gamma_a"], p["x_cv"], p["c_pa"], p["c_va"], p["r_c"]
    compression = r_c ** (ga - 1.0)
    q_in = fuel_heat * (1.0 - x_r)
    x_p = 1.0 + q_in * x_cv / (c_va * T_1 * compression)
    x_v = 1.0 + q_in * (1.0 - x_cv) / (c_pa * (q_in * x_cv / c_va + T_1 * compression))
    x_r = pi_e ** (1.0 / ga) * x_p ** (-1.0 / ga) / (r_c * x_v)
    T_e = (p["eta_sc"] * pi_e ** (1.0 - 1.0 / ga) * r_c ** (1.0 - ga) * x_p ** (1.0 / ga - 1.0)
           * (q_in * ((1.0 - x_cv) / c_pa + x_cv / c_va) + T_1 * compression))
    return x_r, T_e, x_r * T_e + (1.0 - x_r) * p["T_im"]


def signals(p: Mapping[str, Any], p_im, p_em, omega_t, ut_egr1, ut_egr2, ut_vgt, u_delta, n_e,
            exhaust: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """The model's algebraic quantities at the given states and commands (floats, NumPy arrays of one
    shape, or torch tensors; ``p`` the parameters by name, as in :data:`DEFAULTS`).

    Returns flows [kg/s] ``W_c, W_egr, W_ei, W_f, W_eo, W_t``; temperatures [K] ``T_e`` (cylinder out),
    ``T_em`` (exhaust manifold), ``T_1`` (at intake valve closing); ``x_r`` (residual gas fraction);
    powers [W] ``P_t`` (turbine, times its mechanical efficiency) and ``P_c`` (compressor); efficiencies
    ``eta_vol, eta_c, eta_tm``; the blade speed ratio ``BSR``.

    x_r and T_1 are implicit, (24): by default they are solved to convergence by fixed-point iteration.
    ``exhaust`` = (x_r, T_1) gives them instead (a twin that learns them as outputs): every signal is then
    computed from the given values, and the returned ``x_r`` and ``T_1`` are what one pass of the cycle
    makes of them (:func:`_cycle`), so that the given values minus the returned ones is the residual of
    (24), zero where the given values are the solution.
    """
    ops = _ops(p_im)
    sqrt, clip = ops.sqrt, ops.clip
    ga, ge, c_pa = p["gamma_a"], p["gamma_e"], p["c_pa"]
    # cylinder (11)-(16)
    eta_vol = p["c_vol1"] * sqrt(p_im) + p["c_vol2"] * n_e ** 0.5 + p["c_vol3"]
    W_ei = eta_vol * p_im * n_e * p["V_d"] / (120.0 * p["R_a"] * p["T_im"])
    W_f = 1e-6 * u_delta * n_e * p["n_cyl"] / 120.0
    W_eo = W_f + W_ei
    # exhaust temperature (17)-(25): a Seliger cycle with residual gas, x_r and T_1 given or by fixed point
    pi_e = p_em / p_im
    fuel_heat = W_f * p["q_HV"] / W_eo
    if exhaust is not None:
        x_r, T_e, T_1 = _cycle(p, pi_e, fuel_heat, *exhaust)
    else:
        x_r, T_1 = 0.0 * p_im, p["T_im"] + 0.0 * p_im
        for _ in range(60):
            x_r, T_e, T_1_next = _cycle(p, pi_e, fuel_heat, x_r, T_1)
            T_1, previous = T_1_next, T_1
            if ops.size(T_1 - previous) < 1e-11 * p["T_im"]:
                break
    heat_loss = p["h_tot"] * math.pi * p["d_pipe"] * p["l_pipe"] * p["n_pipe"] / (W_eo * p["c_pe"])
    T_em = p["T_w"] + (T_e - p["T_w"]) * ops.exp(-heat_loss)
    gas = sqrt(T_em * p["R_e"])
    # EGR valve (32)-(41)
    pi_egr = clip(p_im / p_em, p["PI_egropt"], 1.0)
    psi_egr = 1.0 - ((1.0 - pi_egr) / (1.0 - p["PI_egropt"]) - 1.0) ** 2
    ut_egr = clip(p["K_egr"] * ut_egr1 - (p["K_egr"] - 1.0) * ut_egr2, 0.0, -p["c_egr2"] / (2.0 * p["c_egr1"]))
    f_egr = p["c_egr1"] * ut_egr ** 2 + p["c_egr2"] * ut_egr + p["c_egr3"]
    W_egr = p["A_egrmax"] * f_egr * p_em * psi_egr / gas
    # turbine (42)-(57)
    pi_t = clip(p["p_amb"] / p_em, hi=0.9999)
    expansion = 1.0 - pi_t ** (1.0 - 1.0 / ge)
    BSR = p["R_t"] * omega_t / sqrt(2.0 * p["c_pe"] * T_em * expansion)
    curved = p["c_m1"] * (clip(omega_t, lo=p["w_tlin"]) - p["c_m2"]) ** p["c_m3"]
    linear = p["c_mlin"] * (clip(omega_t, lo=p["c_m2"]) - p["c_m2"]) / (p["w_tlin"] - p["c_m2"])
    c_m = _where(omega_t >= p["w_tlin"], curved, linear)
    eta_tm = clip(p["eta_tmmax"] - c_m * (BSR - p["BSR_opt"]) ** 2, 0.2, 1.0)
    vgt = (clip(ut_vgt, 20.0, 100.0) - p["c_vgt2"]) / p["c_vgt1"]
    f_vgt = p["c_f2"] + p["c_f1"] * sqrt(clip(1.0 - vgt ** 2, lo=0.0))
    W_t = p["A_vgtmax"] * p_em * sqrt(1.0 - pi_t ** p["K_t"]) * f_vgt / gas
    P_t = eta_tm * W_t * p["c_pe"] * T_em * expansion
    # compressor (58)-(72)
    pi_c = clip(p_im / p["p_amb"], lo=1.0)
    head = pi_c ** (1.0 - 1.0 / ga) - 1.0
    psi_c = 2.0 * c_pa * p["T_amb"] * head / (p["R_c"] ** 2 * omega_t ** 2)
    c_psi1 = clip(p["c_wpsi1"] * omega_t ** 2 + p["c_wpsi2"] * omega_t + p["c_wpsi3"], lo=0.0)
    c_phi1 = clip(p["c_wphi1"] * omega_t ** 2 + p["c_wphi2"] * omega_t + p["c_wphi3"], lo=0.1)
    phi_c = clip(p["c_phi2"] + sqrt(clip(1.0 - c_psi1 * (psi_c - p["c_psi2"]) ** 2, lo=0.0) / c_phi1), lo=0.0)
    W_c = clip(p["p_amb"] * math.pi * p["R_c"] ** 3 * omega_t * phi_c / (p["R_a"] * p["T_amb"]), lo=1e-4)
    chi1 = W_c - p["w_copt"]
    chi2 = clip(pi_c - 1.0, lo=1e-300) ** p["c_pi"] - p["pi_copt"]  # > 0: a finite float64 gradient at pi_c = 1
    eta_c = clip(p["eta_cmax"] - (p["Q_c11"] * chi1 ** 2 + 2.0 * p["Q_c12"] * chi1 * chi2 + p["Q_c22"] * chi2 ** 2),
                 lo=0.2)
    P_c = W_c * c_pa * p["T_amb"] * head / eta_c
    return {"W_c": W_c, "W_egr": W_egr, "W_ei": W_ei, "W_f": W_f, "W_eo": W_eo, "W_t": W_t, "T_e": T_e,
            "T_em": T_em, "T_1": T_1, "x_r": x_r, "P_t": P_t, "P_c": P_c, "eta_vol": eta_vol, "eta_c": eta_c,
            "eta_tm": eta_tm, "BSR": BSR}


def _where(condition, a, b):
    if isinstance(condition, (bool, np.bool_)):
        return a if condition else b
    if isinstance(condition, np.ndarray):
        return np.where(condition, a, b)
    import torch
    return torch.where(condition, a, b)


def derivatives(p: Mapping[str, Any], x, u_delta, n_e, u_egr_delayed, u_vgt_delayed, reduced: bool = False) -> list:
    """dx/dt of the model as a list, one entry per state of :data:`STATES` (or :data:`REDUCED` when
    ``reduced``), at states ``x`` (a sequence of the states' values in that order: floats, arrays or
    tensors) and commands; ``u_egr_delayed``, ``u_vgt_delayed`` [%] are the EGR and VGT commands at
    t - tau_degr and t - tau_dvgt."""
    if reduced:
        p_im, p_em, omega_t, e1, e2, v = x
    else:
        p_im, p_em, xo_im, xo_em, omega_t, e1, e2, v = x
    s = signals(p, p_im, p_em, omega_t, e1, e2, v, u_delta, n_e)
    d_im, d_em, d_w = gas_rates(p, s, omega_t)
    actuators = [(u_egr_delayed - e1) / p["tau_egr1"], (u_egr_delayed - e2) / p["tau_egr2"],
                 (u_vgt_delayed - v) / p["tau_vgt"]]
    if reduced:
        return [d_im, d_em, d_w] + actuators
    return [d_im, d_em, *oxygen_rates(p, s, p_im, p_em, xo_im, xo_em), d_w] + actuators


def gas_rates(p: Mapping[str, Any], s: Mapping[str, Any], omega_t) -> list:
    """dp_im/dt, dp_em/dt (6) and domega_t/dt (42) from the signals ``s`` of :func:`signals`."""
    intake = p["R_a"] * p["T_im"] / p["V_im"]
    exhaust = p["R_e"] * s["T_em"] / p["V_em"]
    return [intake * (s["W_c"] + s["W_egr"] - s["W_ei"]), exhaust * (s["W_eo"] - s["W_t"] - s["W_egr"]),
            (s["P_t"] - s["P_c"]) / (p["J_t"] * omega_t)]


def oxygen_rates(p: Mapping[str, Any], s: Mapping[str, Any], p_im, p_em, xo_im, xo_em) -> list:
    """dX_Oim/dt and dX_Oem/dt (9) from the signals ``s`` of :func:`signals` (nothing else depends on the
    oxygen fractions)."""
    intake = p["R_a"] * p["T_im"] / p["V_im"]
    exhaust = p["R_e"] * s["T_em"] / p["V_em"]
    xo_e = (s["W_ei"] * xo_im - s["W_f"] * p["AFs"] * p["X_Oc"]) / s["W_eo"]
    return [intake / p_im * ((xo_em - xo_im) * s["W_egr"] + (p["X_Oc"] - xo_im) * s["W_c"]),
            exhaust / p_em * (xo_e - xo_em) * s["W_eo"]]


# ----------------------------------------------------------------------------------------------
# the commands
# ----------------------------------------------------------------------------------------------
@dataclass
class Commands:
    """Known commands as functions of time: values (K, 4) of :data:`COMMANDS` at times (K,) [s],
    increasing. ``hold=True``: each row holds until the next one (steps at the times); ``False``: linear
    between rows. Before the first time the first row applies, after the last the last row."""

    times: np.ndarray
    values: np.ndarray
    hold: bool = True
    source: str = "commands"

    def __post_init__(self):
        self.times = np.asarray(self.times, dtype=float).reshape(-1)
        self.values = np.asarray(self.values, dtype=float).reshape(len(self.times), len(COMMANDS))
        check_commands(self.times, self.values, self.source)

    def __call__(self, t) -> np.ndarray:
        """Commands (..., 4) at times ``t`` (...) [s]."""
        t = np.asarray(t, dtype=float)
        if self.hold:
            k = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 1)
            return self.values[k]
        return np.stack([np.interp(t, self.times, self.values[:, j]) for j in range(len(COMMANDS))], axis=-1)

    def breakpoints(self, p: Mapping[str, Any]) -> np.ndarray:
        """Times [s] where the commands the states see change abruptly: the rows' times and the same
        shifted by the EGR and VGT delays."""
        return np.unique(np.concatenate([self.times, self.times + p["tau_degr"], self.times + p["tau_dvgt"]]))

    @classmethod
    def constant(cls, u_delta: float, u_egr: float, u_vgt: float, n_e: float) -> "Commands":
        return cls([0.0], [[u_delta, u_egr, u_vgt, n_e]], source="constant commands")

    @classmethod
    def step(cls, start: Mapping[str, float], name: str, value: float, at: float) -> "Commands":
        """The commands ``start`` (name -> value) until ``at`` [s], then ``name`` stepped to ``value``."""
        if name not in COMMANDS:
            raise ValueError(f"the stepped command must be one of {list(COMMANDS)}, got {name!r}")
        before = [start[c] for c in COMMANDS]
        after = [value if c == name else start[c] for c in COMMANDS]
        return cls([0.0, at], [before, after], source=f"step of {name} to {value:g} at t = {at:g} s")

    @classmethod
    def random(cls, seed: int, duration: float, hold: float = 4.0,
               ranges: Mapping[str, tuple[float, float]] = RANDOM_RANGES) -> "Commands":
        """Commands drawn uniformly in ``ranges`` (name -> (min, max)), all four changing together every
        ``hold`` seconds over [0, ``duration``] s, by ``seed``."""
        if not hold > 0:
            raise ValueError(f"the hold time between random commands must be > 0 s, got {hold!r}")
        times = np.arange(0.0, duration, hold)
        rng = np.random.default_rng(seed)
        lo, hi = np.array([ranges[c] for c in COMMANDS]).T
        return cls(times, lo + (hi - lo) * rng.random((len(times), len(COMMANDS))),
                   source=f"random commands held {hold:g} s (seed {seed})")

    @classmethod
    def read_csv(cls, path: str | Path, hold: bool = False) -> "Commands":
        """Commands from a CSV file with a header naming ``t`` [s] and the four commands (any column order,
        other columns ignored); linear between rows unless ``hold``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"commands file {str(path)!r} does not exist")
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        header = [h.strip() for h in rows[0]] if rows else []
        missing = [c for c in ("t",) + COMMANDS if c not in header]
        if missing:
            raise ValueError(f"commands file {str(path)!r} lacks the column(s) {missing}: its header must name t and "
                             f"{', '.join(COMMANDS)}, it has {header}")
        columns = [header.index(c) for c in ("t",) + COMMANDS]
        data = []
        for k, row in enumerate(rows[1:], start=2):
            try:
                data.append([float(row[j]) for j in columns])
            except (ValueError, IndexError):
                raise ValueError(f"commands file {str(path)!r} line {k} is not a row of numbers: {row}") from None
        if not data:
            raise ValueError(f"commands file {str(path)!r} has no rows of commands")
        data = np.array(data)
        return cls(data[:, 0], data[:, 1:], hold=hold, source=f"commands from {path.name}")


def check_commands(times: np.ndarray, values: np.ndarray, source: str = "commands") -> None:
    """A ``ValueError`` naming the first bad value: times not finite or not increasing, a command not finite
    or outside its physical range (:data:`COMMAND_RANGES`)."""
    if len(times) == 0:
        raise ValueError(f"{source}: no commands given")
    if not np.isfinite(times).all():
        raise ValueError(f"{source}: time {times[~np.isfinite(times)][0]!r} is not finite")
    bad = np.flatnonzero(np.diff(times) <= 0)
    if len(bad):
        k = bad[0] + 1
        raise ValueError(f"{source}: times must increase, but t = {times[k]:g} s (row {k + 1}) follows "
                         f"t = {times[k - 1]:g} s")
    for j, name in enumerate(COMMANDS):
        lo, hi, unit = COMMAND_RANGES[name]
        outside = np.flatnonzero(~((values[:, j] >= lo) & (values[:, j] <= hi)))
        if len(outside):
            k = outside[0]
            raise ValueError(f"{source}: {name} = {values[k, j]:g} {unit} at t = {times[k]:g} s is outside its "
                             f"physical range [{lo:g}, {hi:g}] {unit}")


# ----------------------------------------------------------------------------------------------
# simulation
# ----------------------------------------------------------------------------------------------
def parameters(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The model's parameters: :data:`DEFAULTS` with ``overrides`` (name -> value); unknown names are errors."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown diesel engine parameter(s) {unknown}; the parameters are {sorted(DEFAULTS)}")
    return {**DEFAULTS, **overrides}


def _field(p: Mapping[str, Any], commands: Commands, reduced: bool, segment: tuple[float, float] | None = None):
    """f(t, y) of solve_ivp. Within a ``segment`` between two breakpoints, held commands are constant and
    are looked up once."""
    delay_egr, delay_vgt = p["tau_degr"], p["tau_dvgt"]

    def delayed(t):
        u_delta, _, _, n_e = commands(t)
        return float(u_delta), float(n_e), float(commands(t - delay_egr)[1]), float(commands(t - delay_vgt)[2])

    if commands.hold and segment is not None:
        u = delayed(0.5 * (segment[0] + segment[1]))
        return lambda t, y: derivatives(p, y.tolist(), *u, reduced)
    return lambda t, y: derivatives(p, y.tolist(), *delayed(t), reduced)


def steady_state(u: Mapping[str, float] | np.ndarray, params: Mapping[str, Any] | None = None,
                 reduced: bool = False) -> np.ndarray:
    """The equilibrium (n,) of the model at constant commands ``u`` (name -> value, or the four values in
    :data:`COMMANDS` order): 20 s of simulation from a generic state, polished by a root solve; a
    ``ValueError`` if the polish fails."""
    u = np.array([u[c] for c in COMMANDS] if isinstance(u, Mapping) else u, dtype=float)
    commands = Commands([0.0], [u], source="steady-state commands")
    p = parameters(params)
    names = REDUCED if reduced else STATES
    generic = {"p_im": 1.5e5, "p_em": 1.6e5, "X_Oim": p["X_Oc"], "X_Oem": 0.1, "omega_t": 6000.0,
               "ut_egr1": u[1], "ut_egr2": u[1], "ut_vgt": u[2]}
    x0 = np.array([generic[n] for n in names])
    settled = _integrate(p, commands, x0, np.array([0.0, 20.0]), reduced, rtol=1e-6)[-1]
    f = _field(p, commands, reduced)
    scale = STATE_SCALE[[STATES.index(n) for n in names]]
    sol = root(lambda z: np.array(f(0.0, z * scale)) / scale, settled / scale, method="hybr", tol=1e-10)
    x = sol.x * scale
    if not sol.success or np.max(np.abs(np.array(f(0.0, x)) / scale)) > 1e-8:
        raise ValueError(f"no steady state found at commands {dict(zip(COMMANDS, u.tolist()))}: {sol.message}")
    return x


def _integrate(p, commands: Commands, x0: np.ndarray, t_eval: np.ndarray, reduced: bool, rtol: float,
               method: str = "LSODA") -> np.ndarray:
    names = REDUCED if reduced else STATES
    atol = rtol * 1e-2 * STATE_SCALE[[STATES.index(n) for n in names]]
    edges = commands.breakpoints(p)
    edges = np.unique(np.concatenate([[t_eval[0]], edges[(edges > t_eval[0]) & (edges < t_eval[-1])], [t_eval[-1]]]))
    out = np.empty((len(t_eval), len(x0)))
    out[0], x = x0, np.asarray(x0, dtype=float)
    for a, b in zip(edges[:-1], edges[1:]):
        inside = (t_eval > a) & (t_eval <= b)
        times = t_eval[inside]
        if not (len(times) and times[-1] == b):
            times = np.append(times, b)
        sol = solve_ivp(_field(p, commands, reduced, (a, b)), (a, b), x, method=method, t_eval=times, rtol=rtol,
                        atol=atol)
        if not sol.success:
            raise RuntimeError(f"the engine simulation failed between t = {a:g} and {b:g} s: {sol.message}")
        out[inside], x = sol.y[:, :inside.sum()].T, sol.y[:, -1]
    return out


def simulate(commands: Commands, t_eval, params: Mapping[str, Any] | None = None, x0=None, reduced: bool = False,
             rtol: float = 1e-8, method: str = "LSODA") -> np.ndarray:
    """States (T, n) of the engine at the increasing times ``t_eval`` (T,) [s] under ``commands``, from
    ``x0`` (n,) at t_eval[0] (default: the steady state of the commands at t_eval[0]); n = 8 states
    (:data:`STATES`) or 6 when ``reduced`` (:data:`REDUCED`). ``params`` overrides parameters by name.
    SciPy's ``method`` (LSODA: Adams, switching to BDF where the actuators make it stiff; BDF and Radau also
    work) at ``rtol``, with absolute tolerances rtol/100 of each state's typical size (:data:`STATE_SCALE`),
    restarted at every breakpoint of the commands."""
    p = parameters(params)
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or len(t_eval) < 1 or np.any(np.diff(t_eval) <= 0):
        raise ValueError(f"t_eval must be increasing times (T,), got {t_eval!r}")
    if x0 is None:
        x0 = steady_state(commands(t_eval[0]), p, reduced)
    x0 = np.asarray(x0, dtype=float)
    n = len(REDUCED if reduced else STATES)
    if x0.shape != (n,):
        raise ValueError(f"x0 must hold the {n} states {REDUCED if reduced else STATES}, got shape {x0.shape}")
    if len(t_eval) == 1:
        return x0[None]
    return _integrate(p, commands, x0, t_eval, reduced, rtol, method)


ACTUATORS = ("ut_egr1", "ut_egr2", "ut_vgt")
"""The actuator states: EGR (two, an overshoot model) and VGT [%]."""


def actuators(commands: Commands, t, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """The exact actuator states (T, 3) of :data:`ACTUATORS` at times ``t`` (T,) [s] under held ``commands``,
    from their steady state at the first commands: for a state of time constant tau following the command c
    with delay d, whose held values c_k start at s_k,

        ut(t) = c_1 + sum_{k >= 2} (c_k - c_{k-1}) (1 - exp(-(t - s_k - d) / tau)) for t > s_k + d.
    """
    if not commands.hold:
        raise ValueError("the exact actuator response needs held commands (hold=True), not interpolated ones")
    p = parameters(params)
    t = np.asarray(t, dtype=float)
    out = []
    for column, tau, delay in ((1, "tau_egr1", "tau_degr"), (1, "tau_egr2", "tau_degr"), (2, "tau_vgt", "tau_dvgt")):
        c = commands.values[:, column]
        lag = t[:, None] - commands.times[None, 1:] - p[delay]                      # (T, K - 1)
        rise = np.where(lag > 0, -np.expm1(-np.clip(lag, 0.0, None) / p[tau]), 0.0)
        out.append(c[0] + rise @ np.diff(c))
    return np.stack(out, axis=-1)


def outputs(x: np.ndarray, commands: Commands, t, params: Mapping[str, Any] | None = None,
            reduced: bool = False) -> dict[str, np.ndarray]:
    """The model's signals (:func:`signals`) along states ``x`` (T, n) at times ``t`` (T,), plus the
    turbo speed ``n_t`` [rpm]."""
    p = parameters(params)
    x = np.asarray(x, dtype=float)
    names = REDUCED if reduced else STATES
    col = {n: x[:, k] for k, n in enumerate(names)}
    u = commands(np.asarray(t, dtype=float))
    s = signals(p, col["p_im"], col["p_em"], col["omega_t"], col["ut_egr1"], col["ut_egr2"], col["ut_vgt"],
                u[:, 0], u[:, 3])
    s["n_t"] = 30.0 * col["omega_t"] / math.pi
    return s


# ----------------------------------------------------------------------------------------------
# parameter identification: the classical baseline
# ----------------------------------------------------------------------------------------------
MEASURED = ("p_im", "p_em", "omega_t", "W_egr")
"""The signals an engine measures, in the order of :func:`measure`: p_im, p_em [Pa], omega_t [rad/s],
W_egr [kg/s]."""
IDENTIFIED = ("eta_sc", "h_tot", "A_egrmax", "A_vgtmax")
"""The parameters identified by default: they drift as an engine ages or fails."""


def measure(commands: Commands, t, params: Mapping[str, Any] | None = None, noise: float = 0.0, seed: int = 0,
            rtol: float = 1e-8) -> np.ndarray:
    """The measured signals (T, 4) of :data:`MEASURED` at times ``t`` (T,) [s], simulated from the steady
    state of the first commands, each sample multiplied by (1 + ``noise`` e), e standard Gaussian (seed
    ``seed``): ``noise=0.01`` is 1 % relative noise."""
    x = simulate(commands, t, params, rtol=rtol)
    return add_noise(measured_signals(x, commands, t, params), noise, seed)


def measured_signals(x: np.ndarray, commands: Commands, t, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """The signals (T, 4) of :data:`MEASURED` along states ``x`` (T, 8) at times ``t`` (T,) [s]; a parameter
    of ``params`` may be an array (T,), its value in force at each time."""
    return np.stack([x[:, 0], x[:, 1], x[:, 4], outputs(x, commands, t, params)["W_egr"]], axis=1)


def add_noise(y: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """``y`` with each sample multiplied by (1 + ``noise`` e), e standard Gaussian (seed ``seed``): ``noise=0.01``
    is 1 % relative noise; ``y`` itself when ``noise`` is 0."""
    if not noise:
        return y
    return y * (1.0 + noise * np.random.default_rng(seed).standard_normal(y.shape))


def identify_least_squares(commands: Commands, t, measured: np.ndarray, initial_guess: Mapping[str, float],
                           params: Mapping[str, Any] | None = None, rtol: float = 1e-8,
                           diff_step: float = 1e-3, x0=None) -> dict[str, Any]:
    """Nonlinear least squares (``scipy.optimize.least_squares``, trust region reflective) on the simulator:
    the parameters named in ``initial_guess`` (name -> starting value) that make the simulated signals of
    :data:`MEASURED` fit ``measured`` (T, 4) at times ``t`` (T,) [s] under ``commands``, every trajectory
    from the state ``x0`` (8,) at t[0] (the state of an engine observed while running), or by default from
    the steady state of the commands at t[0] at the trial parameters. Residuals are each signal's
    misfit over its RMS; the unknowns are log(value / guess), bounded to a factor 3 either way; the Jacobian
    is by forward differences of step ``diff_step`` (well above the integrator's error at ``rtol``).
    ``params`` sets the other parameters. Returns ``values`` (name -> identified value), ``nfev``
    (simulations, Jacobian included), ``cost`` and ``wall_s``."""
    import time

    from scipy.optimize import least_squares

    names = list(initial_guess)
    if not names:
        raise ValueError("initial_guess must name at least one parameter to identify")
    base = parameters(params)
    unknown = [n for n in names if n not in base]
    if unknown:
        raise ValueError(f"cannot identify unknown parameter(s) {unknown}; the parameters are {sorted(base)}")
    bad = {n: v for n, v in initial_guess.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        raise ValueError(f"initial guesses must be finite and > 0 (they are scaled logarithmically), got {bad}")
    measured = np.asarray(measured, dtype=float)
    t = np.asarray(t, dtype=float)
    if measured.shape != (len(t), len(MEASURED)):
        raise ValueError(f"measured must be (T, 4) = ({len(t)}, 4) signals {MEASURED}, got shape {measured.shape}")
    guess = np.array([initial_guess[n] for n in names], dtype=float)
    weight = 1.0 / np.sqrt(np.mean(measured ** 2, axis=0))

    def residuals(theta):
        trial = {**base, **dict(zip(names, guess * np.exp(theta)))}
        x = simulate(commands, t, trial, x0=x0, rtol=rtol)
        return ((measured_signals(x, commands, t, trial) - measured) * weight).ravel()

    start = time.perf_counter()
    fit = least_squares(residuals, np.zeros(len(names)), bounds=(-math.log(3.0), math.log(3.0)), method="trf",
                        diff_step=diff_step, x_scale=1.0)
    wall = time.perf_counter() - start
    return {"values": dict(zip(names, (guess * np.exp(fit.x)).tolist())), "nfev": int(fit.nfev + fit.njev * len(names)),
            "cost": float(fit.cost), "wall_s": wall, "message": fit.message}
