//! Where inside an item a finding sits.

use serde::{Deserialize, Serialize};

/// The structural position of a finding inside its item.
///
/// Serialized with a `kind` tag, such as `{"kind":"csv","row":4,"column":2,"header":"SSN"}`.
/// Line, column and byte offsets are carried by the finding itself; the locator adds
/// what a reader of that format would use to find the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Locator {
    /// Plain text: line and column on the finding are enough.
    Text,
    /// The item's own file or folder name.
    FileName,
    /// A delimited-text cell. `row` counts records from 1, header row included;
    /// `column` counts fields from 1.
    Csv {
        row: u64,
        column: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        header: Option<String>,
    },
    /// A JSON string, by its RFC 6901 pointer (`/entry/0/resource/name/0/family`).
    Json { pointer: String },
    /// XML text or an attribute value, by element path (`/ClinicalDocument/recordTarget/...`).
    Xml {
        path: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        attribute: Option<String>,
    },
    /// HTML text or an attribute value, by element path (`/html/body/table/tr/td`).
    Html {
        path: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        attribute: Option<String>,
    },
    /// A spreadsheet cell (`Sheet1`, `C12`), with its column header when one was found.
    Cell {
        sheet: String,
        cell: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        header: Option<String>,
    },
    /// A page of a paginated document, counted from 1.
    Page { page: u32 },
    /// A fillable form field, by its fully qualified name.
    FormField {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        page: Option<u32>,
    },
    /// A document property or metadata entry (`author`, `dc:creator`).
    Property { name: String },
    /// A part of a package document (`word/footer1.xml`), with what it is (`footer`, `comment`).
    Part {
        part: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
    },
    /// An HL7 v2 field: segment name, its occurrence in the message counted from 1,
    /// and the field reference (`PID-5`, `PID-5.1`).
    Hl7 {
        message: u32,
        segment: String,
        occurrence: u32,
        field: String,
    },
    /// An X12 element: loop id when known, segment and element reference (`NM1-09`).
    X12 {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        loop_id: Option<String>,
        segment: String,
        element: String,
    },
    /// A DICOM data element by tag (`(0010,0010)`) and keyword (`PatientName`).
    Dicom {
        tag: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        keyword: Option<String>,
    },
    /// A mail header (`Subject`, `To`).
    MailHeader { header: String },
    /// A MIME body part by its part number (`1.2`) and media type.
    MailBody {
        part: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        media_type: Option<String>,
    },
}

impl Locator {
    /// Returns where a reader of the format finds the value, in a few words
    /// for a terminal (`Intake!B2`, `page 3`, `PID-5`), or `None` for plain
    /// text, where the line and column are enough. Column headers are left
    /// out, because a sheet without a header row gives its first data row as
    /// headers.
    pub fn describe(&self) -> Option<String> {
        let text = match self {
            Locator::Text => return None,
            Locator::FileName => "file name".to_string(),
            Locator::Csv { row, column, .. } => format!("row {row}, column {column}"),
            Locator::Json { pointer } => pointer.clone(),
            Locator::Xml { path, attribute } | Locator::Html { path, attribute } => match attribute
            {
                Some(attribute) => format!("{path}/@{attribute}"),
                None => path.clone(),
            },
            Locator::Cell {
                sheet,
                cell,
                header,
            } => match header.as_deref() {
                Some("comment") => format!("{sheet}!{cell} comment"),
                _ => format!("{sheet}!{cell}"),
            },
            Locator::Page { page } => format!("page {page}"),
            Locator::FormField { name, .. } => format!("form field {name}"),
            Locator::Property { name } => format!("property {name}"),
            Locator::Part { part, detail } => match detail {
                Some(detail) => format!("{part} ({detail})"),
                None => part.clone(),
            },
            Locator::Hl7 { message, field, .. } => format!("message {message}, {field}"),
            Locator::X12 {
                loop_id, element, ..
            } => match loop_id {
                Some(loop_id) => format!("loop {loop_id}, {element}"),
                None => element.clone(),
            },
            Locator::Dicom { tag, keyword } => match keyword {
                Some(keyword) => format!("{tag} {keyword}"),
                None => tag.clone(),
            },
            Locator::MailHeader { header } => format!("header {header}"),
            Locator::MailBody { part, .. } => format!("body part {part}"),
        };
        Some(text)
    }

    /// The `kind` tag as written in outputs.
    pub fn kind(&self) -> &'static str {
        match self {
            Locator::Text => "text",
            Locator::FileName => "file-name",
            Locator::Csv { .. } => "csv",
            Locator::Json { .. } => "json",
            Locator::Xml { .. } => "xml",
            Locator::Html { .. } => "html",
            Locator::Cell { .. } => "cell",
            Locator::Page { .. } => "page",
            Locator::FormField { .. } => "form-field",
            Locator::Property { .. } => "property",
            Locator::Part { .. } => "part",
            Locator::Hl7 { .. } => "hl7",
            Locator::X12 { .. } => "x12",
            Locator::Dicom { .. } => "dicom",
            Locator::MailHeader { .. } => "mail-header",
            Locator::MailBody { .. } => "mail-body",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_pages_are_described() {
        let cell = Locator::Cell {
            sheet: "Intake".into(),
            cell: "B2".into(),
            header: Some("SSN".into()),
        };
        assert_eq!(cell.describe().as_deref(), Some("Intake!B2"));
        let comment = Locator::Cell {
            sheet: "Intake".into(),
            cell: "B2".into(),
            header: Some("comment".into()),
        };
        assert_eq!(comment.describe().as_deref(), Some("Intake!B2 comment"));
        assert_eq!(
            Locator::Page { page: 3 }.describe().as_deref(),
            Some("page 3")
        );
        assert_eq!(Locator::Text.describe(), None);
    }

    #[test]
    fn csv_locator_serializes_with_kind() {
        let locator = Locator::Csv {
            row: 4,
            column: 2,
            header: Some("SSN".into()),
        };
        let json = serde_json::to_string(&locator).unwrap();
        assert_eq!(json, r#"{"kind":"csv","row":4,"column":2,"header":"SSN"}"#);
        let back: Locator = serde_json::from_str(&json).unwrap();
        assert_eq!(back, locator);
    }

    #[test]
    fn kind_matches_serialized_tag() {
        let locators = [
            Locator::Text,
            Locator::FileName,
            Locator::Json {
                pointer: "/a".into(),
            },
            Locator::Page { page: 1 },
            Locator::MailHeader {
                header: "Subject".into(),
            },
        ];
        for locator in locators {
            let value = serde_json::to_value(&locator).unwrap();
            assert_eq!(value["kind"], locator.kind());
        }
    }
}
