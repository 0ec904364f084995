"""Every number of the parametric CMS-like detector, in one frozen dataclass.

Keeping them together (rather than as module constants scattered over the simulation)
lets a test switch one effect off, e.g. ``replace(DEFAULT_PARAMS, ecal_noise_eb=0.0)``,
and lets docs/detector.md cite each value exactly once. Units: GeV, cm, ns.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PARAMS", "DetectorParams"]


@dataclass(frozen=True)
class DetectorParams:
    """Resolutions, efficiencies, noise and thresholds of the toy detector."""

    # --- beam spot ----------------------------------------------------------------
    # Run-2 luminous region: sigma_z ~ 3.5 cm, transverse ~ 10 um [CMSSW
    # IOMC/EventVertexGenerators VtxSmearedParameters_cfi, Realistic25ns13TeV*Collision].
    beamspot_sigma_xy: float = 10e-4
    beamspot_sigma_z: float = 3.5

    # --- ECAL (PbWO4) -------------------------------------------------------------
    # Test-beam resolution sigma/E = 2.8%/sqrt(E) + 12%/E + 0.3% [JINST 3 S08004 ch. 4;
    # JINST 2 P04004]. The 12%/E noise term is not put in by hand: it is what the
    # per-crystal noise below gives when summed over the 3x3 crystals of a shower.
    ecal_stochastic: float = 0.028
    ecal_constant: float = 0.003
    # Electronics noise per crystal: ~40 MeV in EB, ~150 MeV (energy-equivalent) in EE
    # [JINST 3 S08004 ch. 4; CMS ECAL TDR CERN-LHCC-97-033].
    ecal_noise_eb: float = 0.040
    ecal_noise_ee: float = 0.150
    # Zero suppression: keep crystals above 4 noise sigmas, 160 MeV in EB and 600 MeV in
    # EE (our choice: ~3 noise-only crystals per event; the PF rechit thresholds of 80 /
    # 300 MeV [PF paper, JINST 12 P10003] would give ~2000, which CMS tames with
    # selective readout that we do not simulate).
    ecal_zs_nsigma: float = 4.0
    # Lateral EM profile in crystal widths (2.2 cm, about one Moliere radius 2.19 cm):
    # a core and a halo Gaussian fitted to 80% / 94% / 97% of the energy in 1x1 / 3x3 /
    # 5x5 crystals for a central impact [CMS ECAL TDR CERN-LHCC-97-033;
    # JINST 3 S08004 ch. 4]. The fit is in tests/sim/test_showers.py.
    em_core_weight: float = 0.9105
    em_core_sigma: float = 0.2709
    em_halo_sigma: float = 1.8850
    # ECAL timing sigma_t = N / (E / sigma_noise) + C, N ~ 35 ns [JINST 5 P03011];
    # C = 0.1 ns, between the 20 ps of the test beam and the in-situ values.
    ecal_time_noise_ns: float = 35.0
    ecal_time_constant_ns: float = 0.1
    # ECAL depth is 23 cm of PbWO4, 25.8 X0 or 1.1 lambda_I [JINST 3 S08004 ch. 4],
    # so 1 - exp(-1.1) of the hadrons start their shower in it.
    ecal_lambda_i: float = 1.1
    # Showers above this energy spread over 7x7 crystals, softer ones over 3x3: the 6% in
    # the outer ring of a 5 GeV shower is < 20 MeV per crystal, well under the noise.
    wide_window_above: float = 5.0
    # Same for the ECAL part of hadron showers, which are broader: 7x7 above 0.5 GeV.
    wide_window_above_had: float = 0.5
    # Lateral spread of the ECAL part of a hadron shower, crystal widths (toy choice).
    had_ecal_sigma: float = 1.5
    # Minimum ionisation: 23 cm x 10.2 MeV/cm in PbWO4 [PDG, atomic & nuclear
    # properties] ~ 0.25 GeV in ECAL; ~2 GeV in HB for a muon (toy choice).
    mip_ecal: float = 0.25
    mip_hcal: float = 2.0

    # --- HCAL (brass/scintillator) -----------------------------------------------
    # Single-hadron resolution sigma/E = 100%/sqrt(E) + 5% [CMS HCAL TDR CERN-LHCC-97-031];
    # the EB+HB test beam measured 84.7%/sqrt(E) + 7.4% [EPJ C 60 (2009) 359].
    had_stochastic: float = 1.00
    had_constant: float = 0.05
    # Non-compensation: e/h ~ 1.4 for HB, pion response f_em + (1 - f_em) h/e with
    # f_em = 1 - (E / E0)^(k - 1), E0 = 1 GeV, k = 0.83 [Gabriel et al., NIM A 338
    # (1994) 336; Groom, NIM A 572 (2007) 633].
    e_over_h: float = 1.4
    fem_k: float = 0.83
    # Lateral spread of the HCAL shower, tower widths (toy: ~1 lambda_I for 95%).
    had_hcal_sigma: float = 0.35
    # Tower noise ~200 MeV and the 0.8 GeV HCAL rechit threshold [PF paper, JINST 12 P10003].
    hcal_noise: float = 0.20
    hcal_threshold: float = 0.8

    # --- tracker ------------------------------------------------------------------
    # Tracks: pT > 0.5 GeV, |eta| < 2.5, produced inside BPIX layer 3 (>= 2 pixel hits);
    # efficiency ~95% above 1 GeV and ~90% below, 99% for muons, 90% for electrons
    # [CMS-TRK-11-001, JINST 9 P10009].
    track_min_pt: float = 0.5
    track_max_eta: float = 2.5
    track_max_prod_r: float = 10.9
    track_eff_high: float = 0.95
    track_eff_low: float = 0.90
    track_eff_muon: float = 0.99
    track_eff_electron: float = 0.90
    # sigma(pT)/pT = a pT + b, times (1 + max(0, |eta| - 0.9)) in the endcaps:
    # ~1.5% at 100 GeV and ~0.7% at 1 GeV in the barrel [JINST 9 P10009, resolution vs pT].
    track_pt_a: float = 1.5e-4
    track_pt_b: float = 0.007
    # Impact parameters: sigma(d0) = 10 um + 30 um GeV / (pT sqrt(sin theta)),
    # sigma(dz) = 20 um + 50 um GeV / (pT sin^1.5 theta) [JINST 9 P10009;
    # Phase-1 pixel TDR CMS-TDR-011]; the angle powers are multiple scattering.
    d0_const: float = 10e-4
    d0_ms: float = 30e-4
    dz_const: float = 20e-4
    dz_ms: float = 50e-4
    # Direction resolution, radians: 0.2 mrad + 2 mrad GeV / pT (toy, JINST 9 P10009).
    angle_const: float = 2e-4
    angle_ms: float = 2e-3
    # Silicon hit efficiency > 99% [JINST 9 P10009].
    hit_efficiency: float = 0.99

    # --- tracker material: bremsstrahlung and photon conversions ---------------------
    # Switches, so tests can compare with and without (both off: the detector draws
    # nothing extra and reproduces the material-free simulation bit for bit).
    brem: bool = True
    conversions: bool = True
    # Material budget t(|eta|) / X0 of the tracker, linear between the knots: "0.4 X0 at
    # eta ~ 0, about 1.8 X0 at |eta| ~ 1.4, falling to about 1 X0 at |eta| ~ 2.5"
    # [CMS detector paper JINST 3 S08004 ch. 3, tracker material budget figure and text];
    # the 0.7 X0 at |eta| = 0.8 and the plateau to 1.6 are read off that figure (approx.).
    material_eta: tuple[float, ...] = (0.0, 0.8, 1.4, 1.6, 2.5)
    material_x0: tuple[float, ...] = (0.4, 0.7, 1.8, 1.8, 1.0)
    # The material is spread uniformly in radius between the first pixel layer and the
    # outside of the TOB (~4.4 cm and ~110 cm [JINST 3 S08004 ch. 3]), cut at the
    # tracker's |z| < 280 cm (5.8 m long [JINST 3 S08004 ch. 3]) for forward particles.
    material_r_min: float = 4.0
    material_r_max: float = 110.0
    material_z_max: float = 280.0
    # Bremsstrahlung: the material is cut into this many equal slabs in radius; in each
    # an electron keeps a fraction z of its energy with the Bethe-Heitler PDF
    # (-ln z)^(c - 1) / Gamma(c), c = t_slab / ln 2 [Bethe & Heitler, Proc. R. Soc. A 146
    # (1934) 83; as used by the CMS GSF electron fit, J. Phys. G 31 (2005) N9], and emits
    # the rest as one photon at a uniform radius in the slab (toy: 3 slabs). Electrons
    # below brem_min_energy and photons below brem_min_photon are not radiated (cost;
    # the energy stays with the electron).
    brem_slabs: int = 3
    brem_min_energy: float = 1.0
    brem_min_photon: float = 0.01
    # Conversions: a photon above conv_min_energy converts with probability
    # 1 - exp(-7/9 t), 7/9 X0 the asymptotic pair-production length [PDG Review "Passage
    # of particles through matter", pair production; the cross-section is within ~20%
    # of it above 1 GeV in silicon]. Softer photons never convert (toy choice).
    conv_min_energy: float = 1.0

    # --- reconstruction -------------------------------------------------------------
    jet_min_pt: float = 20.0
    jet_max_eta: float = 2.4
    genjet_min_pt: float = 10.0
    # CaloTower inputs of the jets: an ECAL tower sum counts above 0.2 GeV (CMS scheme-B
    # style), a tower enters the clustering above 0.3 GeV (toy choice).
    tower_ecal_min: float = 0.2
    tower_min: float = 0.3
    eg_seed_min: float = 1.0
    eg_min_energy: float = 10.0


DEFAULT_PARAMS = DetectorParams()
