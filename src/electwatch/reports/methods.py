"""The methods section: what each part of the report computes, and the papers it follows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    key: str
    citation: str
    url: str = ""

    @property
    def short(self) -> str:
        """``Kobak et al. 2016`` style label from the citation."""
        authors, _, rest = self.citation.partition(" (")
        year = rest[:4]
        names = [a.strip() for a in authors.replace(" & ", ", ").split(".,")]
        first = authors.split(",")[0]
        if authors.count("&") == 0 and len(names) <= 2:
            return f"{first} {year}"
        if authors.count(",") <= 3 and "&" in authors:
            second = authors.split("&")[1].split(",")[0].strip()
            return f"{first} & {second} {year}"
        return f"{first} et al. {year}"


REFERENCES: dict[str, Reference] = {
    r.key: r
    for r in [
        Reference(
            "klimek2012",
            "Klimek, P., Yegorov, Y., Hanel, R. & Thurner, S. (2012). Statistical detection "
            "of systematic election irregularities. PNAS 109(41), 16469–16473.",
            "https://doi.org/10.1073/pnas.1210722109",
        ),
        Reference(
            "kobak2016",
            "Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Integer percentages as "
            "electoral falsification fingerprints. Annals of Applied Statistics 10(1), 54–73.",
            "https://doi.org/10.1214/16-AOAS904",
        ),
        Reference(
            "kobak2012",
            "Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2012). Statistical anomalies in "
            "2011–2012 Russian elections revealed by 2D correlation analysis. "
            "arXiv:1205.0741.",
            "https://arxiv.org/abs/1205.0741",
        ),
        Reference(
            "shpilkin2011",
            "Shpilkin, S. (2011). Statistical analysis of the results of the Russian "
            "parliamentary elections of 2011 (in Russian). Troitsky Variant / "
            "podmoskovnik.livejournal.com.",
            "",
        ),
        Reference(
            "mebane2006",
            "Mebane, W. R. Jr. (2006). Election forensics: vote counts and Benford's law. "
            "Summer Meeting of the Political Methodology Society, UC Davis.",
            "",
        ),
        Reference(
            "mebane2015",
            "Hicken, A. & Mebane, W. R. Jr. (2015). A guide to election forensics. "
            "Election Forensics Toolkit, USAID / University of Michigan.",
            "",
        ),
        Reference(
            "ferrari2018",
            "Ferrari, D., McAlister, K. & Mebane, W. R. Jr. (2018). Developments in positive "
            "empirical models of election frauds: dimensions and decisions. Working paper, "
            "University of Michigan (the R package eforensics).",
            "",
        ),
        Reference(
            "mebane2016",
            "Mebane, W. R. Jr. (2016). Election forensics: frauds tests and observation-level "
            "frauds probabilities. Annual Meeting of the Midwest Political Science "
            "Association, Chicago.",
            "",
        ),
        Reference(
            "beber2012",
            "Beber, B. & Scacco, A. (2012). What the numbers say: a digit-based test for "
            "election fraud. Political Analysis 20(2), 211–234.",
            "https://doi.org/10.1093/pan/mpr046",
        ),
        Reference(
            "hartigan1985",
            "Hartigan, J. A. & Hartigan, P. M. (1985). The dip test of unimodality. "
            "Annals of Statistics 13(1), 70–84.",
            "https://doi.org/10.1214/aos/1176346577",
        ),
        Reference(
            "benjamini1995",
            "Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. "
            "JRSS B 57(1), 289–300.",
            "",
        ),
        Reference(
            "cochran1977",
            "Cochran, W. G. (1977). Sampling Techniques, 3rd ed. Wiley (expansion, ratio and "
            "stratified estimators; finite-population correction).",
            "",
        ),
        Reference(
            "rao1988",
            "Rao, J. N. K. & Wu, C. F. J. (1988). Resampling inference with complex survey "
            "data. JASA 83(401), 231–241 (the rescaled bootstrap within strata).",
            "https://doi.org/10.1080/01621459.1988.10478591",
        ),
        Reference(
            "efron1993",
            "Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. "
            "Chapman & Hall.",
            "",
        ),
        Reference(
            "okabe2008",
            "Okabe, M. & Ito, K. (2008). Color universal design: how to make figures and "
            "presentations that are friendly to colorblind people (the figure palette).",
            "",
        ),
    ]
}


@dataclass(frozen=True)
class Method:
    title: str
    text: str
    refs: tuple[str, ...]


METHODS: dict[str, Method] = {
    m.title: m
    for m in [
        Method(
            "Data and validation",
            "Station-level results are read through a declared column mapping and validated "
            "column by column. Inconsistencies found in real data (ballots cast above the "
            "register, tiny registers, stations abroad, parts that do not add up) are kept "
            "and counted as warnings; nothing is dropped.",
            (),
        ),
        Method(
            "Turnout and vote-share histograms",
            "Turnout (ballots cast / registered) and the leader's share of ballots cast per "
            "station, in 0.1-point bins centred on tenths of a percent, for stations with at "
            "least 100 registered voters (smaller stations take few distinct values). Bins on "
            "whole percents are drawn in vermillion: a comb of spikes there is the signature "
            "of protocols written to round targets.",
            ("kobak2016",),
        ),
        Method(
            "Election fingerprint",
            "Two-dimensional histogram of turnout against the leader's share in 1% × 1% "
            "cells, stations with fewer than 100 voters removed. A clean election is one "
            "roughly round blob; ballot stuffing smears it towards 100% turnout and 100% "
            "leader share.",
            ("klimek2012", "kobak2012"),
        ),
        Method(
            "Forensics battery",
            "Second-digit (2BL) and last-digit means and shares of counts and percentages "
            "ending in 0 or 5 against their nulls with bootstrap intervals; turnout "
            "skewness, kurtosis and the dip test of unimodality; the Klimek et al. fraud "
            "model; integer-percent excess against a binomial redraw; Shpilkin's excess "
            "votes; multiple testing across areas controlled by the false discovery rate.",
            (
                "mebane2006",
                "mebane2015",
                "beber2012",
                "hartigan1985",
                "klimek2012",
                "kobak2016",
                "shpilkin2011",
                "benjamini1995",
                "efron1993",
            ),
        ),
        Method(
            "Digit plots",
            "Observed digit shares as dots (vermillion outside the band); the null "
            "(Benford's second-digit law, or a uniform last digit) as a line, with the "
            "binomial 95% band for the same number "
            "of digits. Digits are extracted from integers, never from float strings.",
            ("mebane2006", "beber2012"),
        ),
        Method(
            "Blank and invalid ballots",
            "Blank and invalid ballots are ranked as if they were a candidate, per area; the "
            "table lists the areas where they beat candidates.",
            (),
        ),
        Method(
            "Turnout from observations",
            "Observer counts at watched stations are expanded to all stations (naive "
            "expansion, ratio and stratified estimators with finite-population correction, "
            "Rao-Wu rescaled bootstrap intervals resampling stations within strata); partial "
            "watch windows are scaled by an intra-day arrival profile.",
            ("cochran1977", "rao1988"),
        ),
        Method(
            "Claims",
            "Each published claim is checked for its own arithmetic and placed on the same "
            "axis as the estimates and their 95% confidence intervals.",
            (),
        ),
        Method(
            "Figures", "Colour-blind-safe palette; all figures also as PNG and SVG.", ("okabe2008",)
        ),
    ]
}
