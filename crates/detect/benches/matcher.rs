//! Throughput of the default rule set on plain text, per thread.
//!
//! The text is built here from clinical-note templates filled with fake
//! values, so the benchmark needs no files. `typical-notes` is complete
//! office-visit notes; `dense-notes` is short notes, letters and messages
//! packed with identifiers. Each is repeated with varied numbers to about
//! 1 MB. Criterion reports bytes per second for one thread and one `Matcher`,
//! measured in the thread's CPU time on Linux, so that other processes on a
//! shared machine change the result less; other systems fall back to wall time.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phiscan_detect::{Match, Matcher, RuleSet, SegmentInput};
use std::fmt::Write as _;
use std::hint::black_box;

const TARGET_BYTES: usize = 1 << 20;

/// Builds about `TARGET_BYTES` of short notes, a referral letter and a patient
/// message in which nearly every line carries an identifier or a health
/// signal: a worst case for the validation stage.
fn dense_notes() -> String {
    let mut text = String::with_capacity(TARGET_BYTES + 4096);
    let mut n: u64 = 7;
    while text.len() < TARGET_BYTES {
        // A small linear congruential generator keeps the values varied and
        // the text identical between runs.
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let a = (n >> 33) % 9000 + 1000;
        let b = (n >> 17) % 90 + 10;
        let month = (n >> 9) % 12 + 1;
        let day = (n >> 5) % 28 + 1;
        write!(
            text,
            "PROGRESS NOTE\nPatient: Maria Lopez    DOB: {month:02}/{day:02}/1958    MRN: 00{a}{b}\n\
             Date of Service: 03/{day:02}/2025\nProvider: Anita Patel, MD\n\n\
             SUBJECTIVE: Ms. Lopez is a 66-year-old woman with a history of hypertension and type 2 \
             diabetes who presents for follow-up of her blood pressure and glucose control. She reports \
             good adherence to lisinopril and metformin, denies chest pain, shortness of breath, \
             dizziness or headaches, and has been walking for thirty minutes most days of the week. \
             Her sleep is fair and her appetite is stable. She has no new complaints today.\n\n\
             OBJECTIVE: BP 13{b}/8{day}, HR 7{month}, Temp 98.{month} F, weight stable compared with \
             the last visit. Lungs clear to auscultation bilaterally. Heart regular rate and rhythm \
             without murmurs. Extremities without edema. Hemoglobin A1c 7.{month}% and LDL 1{b} mg/dL.\n\n\
             ASSESSMENT/PLAN:\n1. Essential hypertension (I10) - continue lisinopril 20 mg daily, \
             recheck in three months.\n2. Type 2 diabetes mellitus without complications (E11.9) - \
             continue metformin 500 mg twice daily, reinforce diet and exercise counseling.\n\
             Follow up in 12 weeks or sooner if symptoms change. Call the office with questions.\n\n\
             Dear Dr. Okafor,\nThank you for seeing our patient for evaluation of chronic kidney \
             disease stage 3. Her most recent creatinine was 1.{day} mg/dL. Please call {a}-55{day} \
             with any questions; our fax is (617) 432-{a}.\nSincerely,\nAnita Patel, MD\n\n\
             Hi, this is Maria. I need a refill of my metformin before the weekend, and I wanted to \
             ask whether I should keep taking the lower dose of my blood pressure pill. Thanks!\n\n"
        )
        .unwrap();
    }
    text
}

/// Builds about `TARGET_BYTES` of complete progress notes: a header with the
/// patient's identifiers, then history, review of systems, exam, results and
/// plan in running prose, as a clinician writes them.
fn typical_notes() -> String {
    let mut text = String::with_capacity(TARGET_BYTES + 8192);
    let mut n: u64 = 11;
    while text.len() < TARGET_BYTES {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let a = (n >> 33) % 9000 + 1000;
        let b = (n >> 17) % 90 + 10;
        let month = (n >> 9) % 12 + 1;
        let day = (n >> 5) % 28 + 1;
        write!(
            text,
            "OFFICE VISIT NOTE\nPatient: Robert Nguyen   DOB: {month}/{day}/1951   MRN: 55{a}{b}\n\
             Visit date: {month:02}/{day:02}/2025   Provider: Sarah Kim, MD\n\n\
             CHIEF COMPLAINT: Follow-up of chronic conditions and medication review.\n\n\
             HISTORY OF PRESENT ILLNESS: The patient is a 73-year-old man who returns for routine \
             follow-up. He states that he has been feeling generally well since the last visit. He has \
             been checking his blood pressure at home several times a week and reports readings mostly \
             in the 130s over 80s. He denies chest pain, palpitations, orthopnea or leg swelling. He \
             walks his dog twice a day for about twenty minutes and has not noticed any shortness of \
             breath with this activity. His appetite is good and his weight has been stable. He sleeps \
             about seven hours a night and wakes once to urinate. He has had no falls. He continues to \
             take his medications as prescribed and has not missed doses, using a weekly pill organizer \
             that his daughter fills on Sundays. He has no side effects that he is aware of, although \
             he mentions occasional mild muscle aches in his thighs after yard work, which resolve with \
             rest. He drinks one to two cups of coffee a day and does not smoke. He has about two \
             glasses of wine per week.\n\n\
             REVIEW OF SYSTEMS: Constitutional: negative for fever, chills, night sweats or unintentional \
             weight loss. Eyes: negative for blurred vision. ENT: negative for sore throat or hearing \
             changes. Cardiovascular: as above. Respiratory: negative for cough or wheezing. \
             Gastrointestinal: negative for nausea, vomiting, abdominal pain, diarrhea, constipation or \
             blood in the stool. Genitourinary: nocturia once nightly, no dysuria or hematuria. \
             Musculoskeletal: occasional thigh aches as described, no joint swelling. Skin: negative \
             for rashes or new lesions. Neurological: negative for headaches, numbness, tingling or \
             weakness. Psychiatric: mood is good, no anxiety or depressed mood. All other systems \
             reviewed and negative.\n\n\
             PHYSICAL EXAMINATION: Blood pressure 13{b}/8{month}, pulse 7{day}, respiratory rate 14, \
             temperature 98.{month} F, oxygen saturation 97 percent on room air. General: well \
             appearing, in no acute distress. HEENT: normocephalic, atraumatic, mucous membranes \
             moist. Neck: supple without lymphadenopathy or thyromegaly. Lungs: clear to auscultation \
             bilaterally without wheezes, rales or rhonchi. Heart: regular rate and rhythm, normal \
             first and second heart sounds, no murmurs, rubs or gallops. Abdomen: soft, nontender, \
             nondistended, normal bowel sounds. Extremities: no clubbing, cyanosis or edema; pedal \
             pulses intact. Neurological: alert and oriented, strength and sensation grossly intact, \
             gait steady.\n\n\
             RESULTS: Hemoglobin A1c 6.{month}% and LDL 9{b} mg/dL from last month. Basic metabolic \
             panel within normal limits.\n\n\
             ASSESSMENT AND PLAN:\n1. Essential hypertension, well controlled on current regimen. \
             Continue amlodipine 5 mg daily. Continue home monitoring and bring the log to the next \
             visit.\n2. Hyperlipidemia. Mild muscle aches are more likely related to exertion than to \
             the statin, but we discussed warning signs. Continue atorvastatin 20 mg nightly.\n\
             3. Prediabetes. Discussed diet and activity; recheck in six months.\n\
             4. Health maintenance: influenza vaccine given today; colonoscopy is up to date.\n\n\
             Return in six months or sooner as needed. The patient verbalized understanding of and \
             agreement with the plan.\n\nElectronically signed by Sarah Kim, MD on {month:02}/{day:02}/2025\n\n"
        )
        .unwrap();
    }
    text
}

/// CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

#[cfg(target_os = "linux")]
fn thread_cpu_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_nanos() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_nanos() - start
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, nanos: &u64) -> f64 {
        *nanos as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuTimeFormatter
    }
}

/// Formats nanoseconds of CPU time as ms and throughput as MiB/s.
struct CpuTimeFormatter;

impl ValueFormatter for CpuTimeFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for value in values {
            *value /= 1e6;
        }
        "ms (thread CPU)"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let bytes = match throughput {
            Throughput::Bytes(bytes) | Throughput::BytesDecimal(bytes) => *bytes as f64,
            Throughput::Elements(elements) | Throughput::ElementsAndBytes { elements, .. } => {
                *elements as f64
            }
            _ => 1.0,
        };
        for value in values {
            *value = bytes / (*value / 1e9) / (1024.0 * 1024.0);
        }
        "MiB/s (thread CPU)"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_default_rules(c: &mut Criterion<ThreadCpuTime>) {
    let rules = RuleSet::embedded().expect("default rules load");
    let mut matcher = Matcher::new(&rules);
    let mut found: Vec<Match> = Vec::new();

    let mut group = c.benchmark_group("default-rules");
    group.sample_size(20);
    for (name, text) in [
        ("typical-notes", typical_notes()),
        ("dense-notes", dense_notes()),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |bench| {
            bench.iter(|| {
                found.clear();
                // Text is scanned in 64 KiB segments, as the text extractor hands it over.
                for chunk in text.as_bytes().chunks(64 * 1024) {
                    let chunk = std::str::from_utf8(chunk).expect("the notes are ASCII");
                    matcher.find(&rules, &SegmentInput::plain(chunk), &mut found);
                }
                black_box(found.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_default_rules
}
criterion_main!(benches);
