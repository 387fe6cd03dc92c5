//! Counting people: names split over separate fields (spreadsheet columns,
//! HL7 name components), and clinicians who are not patients. Every value
//! here is invented.

mod common;

use serde_json::Value;

/// Writes `(file name, content)` pairs into a `share` folder and scans it
/// without a store.
fn scan_share(files: &[(&str, &str)]) -> common::Scan {
    let home = tempfile::tempdir().unwrap();
    let share = home.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    for (name, text) in files {
        std::fs::write(share.join(name), text).unwrap();
    }
    common::scan(home.path(), home.path(), &["share", "--no-db", "--quiet"])
}

fn individuals(value: &Value) -> (u64, u64) {
    (
        value["individuals"]["low"].as_u64().unwrap(),
        value["individuals"]["high"].as_u64().unwrap(),
    )
}

#[test]
fn split_name_columns_count_people() {
    let result = scan_share(&[(
        "split.csv",
        "Last Name,First Name,DOB,Diagnosis\n\
         Quinlan,Theodora,07/19/1944,E11.9\n\
         Ashcroft,Wendell,09/02/1951,I10\n\
         Marchetti,Ines,03/11/1962,J45.909\n\
         De La Cruz,Ana Sofia,05/30/1971,I10\n",
    )]);
    let item = result.item("share/split.csv").expect("split.csv item");
    assert_eq!(item["class"], "phi");
    // A part of several words is still a part, not a whole name.
    assert_eq!(individuals(item), (4, 4));
    // The parts alone are findings, but none counts a person by itself.
    assert!(
        result
            .findings_at("share/split.csv")
            .filter(|finding| finding["category"] == "name")
            .all(|finding| finding["person"] != true)
    );
}

#[test]
fn split_and_whole_names_are_one_person() {
    let result = scan_share(&[
        (
            "split.csv",
            "LNAME,FNAME,Guarantor Last Name,Guarantor First Name\n\
         Quinlan,Theodora,Quinlan,Bertram\n\
         Ashcroft,Wendell,Ashcroft,Wendell\n",
        ),
        (
            "letter.txt",
            "Patient: Theodora Quinlan\nPatient: Ashcroft, Wendell\n",
        ),
    ]);
    let split = result.item("share/split.csv").expect("split.csv item");
    // Theodora Quinlan, Bertram Quinlan and Wendell Ashcroft, who is his own
    // guarantor.
    assert_eq!(individuals(split), (3, 3));
    assert_eq!(individuals(&result.summary), (3, 3));
}

#[test]
fn hl7_name_components_count_people() {
    let result = scan_share(&[(
        "adt.hl7",
        "MSH|^~\\&|ADT|CLINIC|EHR|CLINIC|202402051200||ADT^A01|MSG0001|P|2.5\r\
         PID|1||PATID4471^^^CLINIC^MR||QUINLAN^THEODORA^M||19440719173619|F\r\
         NK1|1|QUINLAN^BERTRAM^J|SPO\r",
    )]);
    let item = result.item("share/adt.hl7").expect("adt.hl7 item");
    let categories: Vec<(&str, &str)> = result
        .findings_at("share/adt.hl7")
        .map(|finding| {
            (
                finding["category"].as_str().unwrap(),
                finding["locator"]["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for expected in [
        ("mrn", "PID-3.1"),
        ("name", "PID-5.1"),
        ("name", "PID-5.2"),
        ("date", "PID-7"),
        ("name", "NK1-2.1"),
        ("name", "NK1-2.2"),
    ] {
        assert!(
            categories.contains(&expected),
            "{expected:?} in {categories:?}"
        );
    }
    // Two names and one record number: two to three people.
    assert_eq!(individuals(item), (2, 3));
}

#[test]
fn clinicians_are_not_counted_as_patients() {
    let result = scan_share(&[
        (
            "practitioners.json",
            r#"{"resourceType": "Bundle", "entry": [{"resource": {
            "resourceType": "Practitioner",
            "name": [{"family": "Okonkwo", "given": ["Adaeze"], "prefix": ["Dr."]}],
            "telecom": [{"system": "phone", "value": "(413) 555-2231"}],
            "address": [{"line": ["14 Maple Street"], "city": "Amherst", "state": "MA"}]
        }}]}"#,
        ),
        (
            "visits.csv",
            "Attending Physician,Visit Date\nAdaeze Okonkwo,2024-03-02\n",
        ),
        (
            "note.xml",
            "<ClinicalDocument><author><assignedAuthor><assignedPerson><name>\
         <given>Adaeze</given><family>Okonkwo</family></name></assignedPerson>\
         <telecom value=\"tel:+1-412-867-5501\"/></assignedAuthor></author><recordTarget><patientRole><patient><name>\
         <given>Theodora</given><family>Quinlan</family></name></patient>\
         </patientRole></recordTarget></ClinicalDocument>",
        ),
        (
            "author.xml",
            "<ClinicalDocument><author><assignedAuthor>\
         <telecom value=\"tel:+1-412-867-5501\"/></assignedAuthor></author></ClinicalDocument>",
        ),
    ]);

    for location in [
        "share/practitioners.json",
        "share/visits.csv",
        "share/author.xml",
    ] {
        let item = result.item(location).expect(location);
        assert_eq!(item["class"], "none", "{location}");
        assert!(item["individuals"].is_null(), "{location}: {item}");
    }

    // The clinician's name is still listed, but only the patient counts.
    let note = result.item("share/note.xml").expect("note.xml item");
    assert_eq!(individuals(note), (1, 1));
    assert_eq!(
        result
            .findings_at("share/note.xml")
            .filter(|finding| finding["category"] == "name")
            .count(),
        4
    );
}
