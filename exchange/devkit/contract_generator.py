"""Write the committed contracts (ODCS v3 YAML) and their GX suites from one description.

Run ``.venv/bin/python -m exchange.devkit.contract_generator`` after changing a dataset below. The
files it writes are committed and may be edited by hand afterwards; `gcmx contract
check` then proves each suite still agrees with its contract. Editing a dataset here
and regenerating changes the contract hash: bump the version and re-sign.

``python -m exchange.devkit.contract_generator --suites-only`` leaves the contracts alone and rewrites only the
part of each suite derived from its committed (possibly hand-edited) contract, keeping
the hand-written expectations. Patterns reach the suites translated from ECMA-262 to a
Python regex of the same meaning (exchange/contract/patterns.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from exchange.contract.model import CONTRACT_SUFFIX, REPOSITORY_CONTRACTS, columns_from_document, read_suite
from exchange.contract.suite import suite_document

ROOT = REPOSITORY_CONTRACTS.parent  # writes ROOT/contracts and ROOT/expectations

VERSION = "1.0.0"
SCHEDULE = "0 6 5 * *"  # 06:00 on the 5th of each month, for the month before
MONTH_PATTERN = r"^\d{4}-(?:0[1-9]|1[0-2])$"
WORKER_AGES = ["Y18T24", "Y25T34", "Y35T44", "Y45T54", "Y55T64", "Y_GE65"]
CHILD_AGES = ["Y0T4", "Y5T9", "Y10T14", "Y15T17"]
ISIC = list("ABCDEFGHIJKLMNOPQRSTU")
PROVINCES = [f"KH-{n}" for n in range(1, 26)]
REGIONS = {
    "KH-NW": [1, 2, 15, 17, 22, 24],
    "KH-NE": [6, 10, 11, 13, 16, 19],
    "KH-C": [3, 4, 5, 8, 12, 14, 20, 21, 25],
    "KH-SW": [7, 9, 18, 23],
}
AGE_LEVELS = [
    {
        "Y0T4": "Y0T9",
        "Y5T9": "Y0T9",
        "Y10T14": "Y10T17",
        "Y15T17": "Y10T17",
        "Y18T24": "Y18T34",
        "Y25T34": "Y18T34",
        "Y35T44": "Y35T54",
        "Y45T54": "Y35T54",
        "Y55T64": "Y_GE55",
        "Y_GE65": "Y_GE55",
    },
    {"Y0T9": "Y0T17", "Y10T17": "Y0T17", "Y18T34": "Y_GE18", "Y35T54": "Y_GE18", "Y_GE55": "Y_GE18"},
]
OFFICES = {"workers": "labour", "children": "children", "births": "civil_registration"}


def column(name, kind="string", *, codelist=None, values=None, nullable=False, desc="", **extra):
    """One ODCS property; codelists become native invalidValues rules (datacontract test)."""
    physical = {"string": "string", "integer": "int64", "boolean": "bool"}[kind]
    prop = {
        "name": name,
        "logicalType": kind,
        "physicalType": physical,
        "required": not nullable,
        "description": desc,
    }
    options = {k: extra.pop(k) for k in ("minimum", "maximum", "pattern") if k in extra}
    if options:
        prop["logicalTypeOptions"] = options
    prop.update(extra)
    custom = []
    if codelist:
        custom.append({"property": "codelist", "value": codelist})
    if name in ("OBS_STATUS", "CONF_STATUS"):
        custom.append({"property": "addedByProtection", "value": True})
    if custom:
        prop["customProperties"] = custom
    quality = []
    if not nullable:
        quality.append(
            {"type": "library", "metric": "nullValues", "mustBe": 0, "description": f"{name} is never null"}
        )
    if values is not None:
        quality.append(
            {
                "type": "library",
                "metric": "invalidValues",
                "arguments": {"validValues": list(values)},
                "mustBe": 0,
                "description": f"{name} uses {codelist}",
            }
        )
    if quality:
        prop["quality"] = quality
    return prop


def aggregate_columns(sender, recipient, dims, count, count_desc):
    """Period, areas, the classification dimensions, the count and the SDMX status columns."""
    return [
        column("period", pattern=MONTH_PATTERN, desc="Reference month, YYYY-MM"),
        column("ref_area", codelist="CL_AREA", values=[sender], desc="Reporting country (SDMX REF_AREA)"),
        column(
            "counterpart_area",
            codelist="CL_AREA",
            values=[recipient if sender == "KHM" else "KHM"],
            desc="Partner country (SDMX COUNTERPART_AREA)",
        ),
        *dims,
        column(count, "integer", nullable=True, minimum=0, desc=f"{count_desc}; null when suppressed"),
        column(
            "OBS_STATUS",
            codelist="CL_OBS_STATUS",
            values=["A", "M", "E", "P"],
            nullable=True,
            desc="SDMX observation status; M = suppressed. Added by disclosure control",
        ),
        column(
            "CONF_STATUS",
            codelist="CL_CONF_STATUS",
            values=["F", "C"],
            nullable=True,
            desc="SDMX confidentiality status: F free, C confidential (suppressed, primary or "
            "secondary alike). Added by disclosure control",
        ),
    ]


SEX_T = column("sex", codelist="CL_SEX", values=["F", "M", "_T"], desc="Sex; _T = total over sex")


def worker_age():
    return column("age_group", codelist="CL_AGE", values=[*WORKER_AGES, "_T"], desc="Age group; _T = total")


def sector():
    return column("sector", codelist="CL_ISIC4_SECTION", values=ISIC, desc="ISIC Rev.4 section of employment")


def datasets():
    """(dataset, sender, recipient, title, classification, office, columns, disclosure, extras)."""
    for dest in ("THA", "MYS", "KOR"):
        dims = [
            column("province", codelist="CL_KH_PROVINCE", values=PROVINCES, desc="Province of origin"),
            SEX_T,
            worker_age(),
            sector(),
            column(
                "channel",
                codelist="CL_DEPLOYMENT_CHANNEL",
                values=["G2G", "MOU", "IND"],
                desc="Deployment channel",
            ),
        ]
        yield (
            "workers_deployed",
            "KHM",
            dest,
            f"Cambodian workers deployed to {dest}",
            "aggregate",
            "workers",
            aggregate_columns("KHM", dest, dims, "workers", "Workers deployed in the month"),
            ["province", "sex", "age_group", "sector", "channel"],
            5,
        )
        dims = [
            SEX_T,
            worker_age(),
            sector(),
            column(
                "documentation_status",
                codelist="CL_DOC_STATUS",
                values=["DOC", "IRR", "PEN"],
                desc="Documentation status",
            ),
            column(
                "health_coverage",
                codelist="CL_HEALTH_COVERAGE",
                values=["SSF", "MHI", "PRV", "NONE"],
                desc="Health coverage",
            ),
        ]
        yield (
            "workers_registered",
            dest,
            "KHM",
            f"Cambodian workers registered in {dest}",
            "aggregate",
            "workers",
            aggregate_columns(dest, "KHM", dims, "workers", "Registered Cambodian workers at month end"),
            ["sex", "age_group", "sector", "documentation_status", "health_coverage"],
            5,
        )
    for reporter in ("THA", "MYS"):
        dims = [
            column(
                "registration_channel",
                codelist="CL_BIRTH_REG_CHANNEL",
                values=["CONSULATE", "LOCAL_REGISTRY"],
                desc="Where the birth was registered",
            ),
            SEX_T,
            column(
                "parents_documentation",
                codelist="CL_PARENTS_DOC",
                values=["BOTH_DOC", "ONE_DOC", "NONE_DOC", "_U"],
                desc="Parents' documentation status",
            ),
        ]
        yield (
            "child_birth_registrations",
            reporter,
            "KHM",
            f"Births of children of Cambodian nationals registered in {reporter}",
            "children",
            "births",
            aggregate_columns(reporter, "KHM", dims, "births", "Births registered in the month"),
            ["registration_channel", "sex", "parents_documentation"],
            10,
        )
    for sender, recipient in (("KHM", "THA"), ("THA", "KHM")):
        dims = [
            column(
                "care_situation",
                codelist="CL_CARE_SITUATION",
                values=["ACC", "UNACC", "SEP", "LEFT"],
                desc="Accompanied, unaccompanied, separated or left behind",
            ),
            column("age_group", codelist="CL_AGE", values=[*CHILD_AGES, "_T"], desc="Age group; _T = total"),
            SEX_T,
            column(
                "school_enrolment",
                codelist="CL_SCHOOL_ENROLMENT",
                values=["ENR", "NENR", "_U"],
                desc="School enrolment",
            ),
            column(
                "documentation_status",
                codelist="CL_DOC_STATUS",
                values=["DOC", "IRR", "_U"],
                desc="Documentation status",
            ),
        ]
        yield (
            "children_on_the_move",
            sender,
            recipient,
            f"Migrant children, {sender} to {recipient}",
            "children",
            "children",
            aggregate_columns(sender, recipient, dims, "children", "Children counted in the month"),
            ["care_situation", "age_group", "sex", "school_enrolment", "documentation_status"],
            10,
        )


def aggregate_disclosure(dimensions, count, minimum):
    return {
        "method": "aggregate",
        "countColumn": count,
        "dimensions": dimensions,
        "totalCode": "_T",
        "minimumCellSize": minimum,
        "protectionLevels": {"lower": 5, "upper": 5},
    }


def returnees():
    ages = [*CHILD_AGES, *WORKER_AGES]
    age_values = ages + sorted(set(AGE_LEVELS[0].values()) | set(AGE_LEVELS[1].values()))
    columns = [
        column("period", pattern=MONTH_PATTERN, desc="Month of return, YYYY-MM"),
        column("person_id", unique=True,
               desc="Person identifier; AES-CMAC pseudonym (gcmx/pseudonym/v3) after protection"),
        column(
            "sex", codelist="CL_SEX", values=["F", "M", "_U"], nullable=True, desc="Sex (null if suppressed)"
        ),
        column(
            "age_band",
            codelist="CL_AGE",
            values=age_values,
            nullable=True,
            desc="Age band, possibly generalised (null if suppressed)",
        ),
        column(
            "province",
            codelist="CL_KH_PROVINCE",
            values=[*PROVINCES, *REGIONS, "_U"],
            nullable=True,
            desc="Province of origin, possibly generalised to a region (null if suppressed)",
        ),
        column(
            "return_reason",
            codelist="CL_RETURN_REASON",
            values=["DEP", "VOL", "END", "TIP", "OTH"],
            desc="Reason for return",
        ),
        column("unaccompanied_minor", "boolean", desc="Child returned without a parent or guardian"),
    ]
    hierarchies = {
        "age_band": AGE_LEVELS,
        "province": [{f"KH-{n}": region for region, ns in REGIONS.items() for n in ns}],
    }
    disclosure = {
        "method": "records",
        "quasiIdentifiers": ["sex", "age_band", "province"],  # + period, always (records.py)
        "k": 5,
        "hierarchies": hierarchies,
        "pseudonymise": ["person_id"],
        # unaccompanied_minor is False for every adult by definition (see minor_rule): as a
        # 2-diverse attribute it would blank every adult class (README, records disclosure)
        "sensitiveAttributes": ["return_reason"],
        "lDiversity": 2,
        "linkage": "none",
    }
    minor_rule = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {
            "column": "age_band",
            "value_set": [*CHILD_AGES, "Y0T9", "Y10T17", "Y0T17"],
            "row_condition": "unaccompanied_minor == True",
            "condition_parser": "pandas",
        },
        "meta": {"source": "hand-written", "notes": "an unaccompanied minor is a child"},
    }
    return columns, disclosure, [minor_rule]


RETENTION = {  # exchange/contract/usage_terms.py reads it
    "property": "retention",
    "value": 5,
    "unit": "y",
    "driver": "regulatory",
    "description": "Both parties delete the data 5 years after the exchange was published",
}


def document(dataset, sender, recipient, title, classification, office, columns, disclosure):
    contract_id = f"{dataset}.{sender.lower()}-{recipient.lower()}"
    terms = {
        "sender": sender,
        "recipients": [recipient],
        "schedule": SCHEDULE,
        "period": "monthly",
        "revisionPolicy": "a corrected file for a period may be sent within 3 months as revision n+1; "
        "it replaces the earlier one",
        "classification": classification,
        "legalBasis": f"Bilateral agreement {'-'.join(sorted((sender, recipient), key=lambda p: p != 'KHM'))}"
        " "
        "on migration data exchange; Global Compact for Migration objectives 1, 11 and 23",
        "disclosure": disclosure,
        "retentionStart": "published",
        "purpose": ["policy_monitoring", "migrant_protection", "official_statistics"],
        "prohibitedUses": ["immigration_enforcement", "decisions_about_individuals", "re_identification",
                           "commercial_use"],
    }
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": contract_id,
        "name": title,
        "version": VERSION,
        "status": "active",
        "domain": "migration",
        "tenant": sender,
        "description": {
            "purpose": f"{title}, sent {sender} -> {recipient} every month (GCM objective 1).",
            "usage": "Policy monitoring and protection of migrants; not for decisions about individuals.",
            "limitations": "Small cells are suppressed (OBS_STATUS M) under the disclosure rules."
            if disclosure["method"] == "aggregate"
            else "Pseudonymised; quasi-identifiers generalised for k-anonymity.",
        },
        "tags": ["gcm", dataset, classification],
        "servers": [
            {"server": "local", "type": "local", "format": "parquet", "path": f"./{dataset}.parquet"}
        ],
        "schema": [
            {
                "name": dataset,
                "physicalName": dataset,
                "physicalType": "table",
                "logicalType": "object",
                "description": f"{title} ({office} office of {sender})",
                "properties": columns,
                "quality": [
                    {
                        "type": "library",
                        "metric": "rowCount",
                        "mustBeGreaterThan": 0,
                        "description": "a file is never empty",
                    }
                ],
            }
        ],
        "slaProperties": [RETENTION],
        "customProperties": [{"property": k, "value": v} for k, v in terms.items()],
    }


def write_suite(doc, extras) -> Path:
    """Write the GX suite of contract document ``doc``: derived expectations plus ``extras``."""
    suite = suite_document(doc["id"], doc["version"], columns_from_document(doc), extras)
    path = ROOT / "expectations" / f"{doc['id']}-{doc['version']}.json"
    path.write_text(json.dumps(suite, indent=2) + "\n")
    return path


def regenerate_suites() -> None:
    """Re-derive every committed contract's suite; hand-written expectations are kept."""
    for path in sorted((ROOT / "contracts").glob(f"*{CONTRACT_SUFFIX}")):
        doc = yaml.safe_load(path.read_text())
        suite_path = ROOT / "expectations" / f"{doc['id']}-{doc['version']}.json"
        kept = read_suite(suite_path, path)["expectations"] if suite_path.exists() else []
        extras = [e for e in kept if (e.get("meta") or {}).get("source") != "contract"]
        print(f"wrote {write_suite(doc, extras).relative_to(ROOT)}")


def main() -> None:
    if "--suites-only" in sys.argv[1:]:
        regenerate_suites()
        return
    specs = []
    for dataset, sender, recipient, title, classification, office, columns, dims, minimum in datasets():
        count = next(c["name"] for c in columns if c["logicalType"] == "integer")
        key = ["period", "ref_area", "counterpart_area", *dims]
        unique = {
            "type": "expect_compound_columns_to_be_unique",
            "kwargs": {"column_list": key},
            "meta": {"source": "hand-written", "notes": "one row per cell"},
        }
        one_period = {
            "type": "expect_column_unique_value_count_to_be_between",
            "kwargs": {"column": "period", "min_value": 1, "max_value": 1},
            "meta": {"source": "hand-written", "notes": "a file covers one period"},
        }
        specs.append(
            (
                document(
                    dataset,
                    sender,
                    recipient,
                    title,
                    classification,
                    OFFICES[office],
                    columns,
                    aggregate_disclosure(dims, count, minimum),
                ),
                [unique, one_period],
            )
        )
    columns, disclosure, extras = returnees()
    specs.append(
        (
            document(
                "returnees",
                "THA",
                "KHM",
                "Cambodian returnees from THA",
                "personal",
                "labour",
                columns,
                disclosure,
            ),
            extras,
        )
    )
    for doc, extras in specs:
        header = (
            f"# {doc['name']}. Generated by exchange/devkit/contract_generator.py; "
            "hand edits welcome, then `gcmx contract check`.\n"
        )
        (ROOT / "contracts" / f"{doc['id']}.odcs.yaml").write_text(
            header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
        )
        write_suite(doc, extras)
        print(f"wrote {doc['id']}")


if __name__ == "__main__":
    main()
