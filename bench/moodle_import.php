<?php
// Dev-time driver: run Moodle's own XML import code on a quiz that elbo-sym wrote, and print
// what Moodle parsed as JSON (bench/moodle_check.py runs it and compares it with what we meant).
//
//   php bench/moodle_import.php MOODLE_DIR QUIZ.xml
//
// MOODLE_DIR is a Moodle checkout (or a copy of the few files below): this file holds none of
// Moodle's code, only the stubs of Moodle core that the import path needs when it runs without a
// site (no database, no strings, no files). It loads from MOODLE_DIR:
//
//   lib/xmlize.php                              xmlize(): the XML parser Moodle imports with
//   question/format.php                         qformat_default (names, category paths, errors)
//   question/format/xml/format.php              qformat_xml::readquestions() and import_*()
//   question/type/multianswer/questiontype.php  from "// ANSWER_ALTERNATIVE regexes." to the end:
//                                               qtype_multianswer_extract_question/_validate_question
//   question/type/numerical/questiontype.php    class qtype_numerical_answer_processor (to the end)
//
// The last two are read as text and only those parts are evaluated: the classes above them
// need the rest of Moodle's question engine, which the parsing never calls.

if ($argc !== 3) {
    fwrite(STDERR, "usage: php moodle_import.php MOODLE_DIR QUIZ.xml\n");
    exit(2);
}
[, $moodledir, $quizfile] = $argv;

define('MOODLE_INTERNAL', 1);
$CFG = new stdClass();
$CFG->dirroot = rtrim($moodledir, '/');
$CFG->libdir = $CFG->dirroot . '/lib';
$USER = (object) ['id' => 2];

// ------------------------------------------------------------------ stubs of Moodle core

// Text formats: the values Moodle stores (lib/weblib.php).
define('FORMAT_MOODLE', 0);
define('FORMAT_HTML', 1);
define('FORMAT_PLAIN', 2);
define('FORMAT_WIKI', 3);
define('FORMAT_MARKDOWN', 4);
define('PARAM_TEXT', 'text');
define('PARAM_FILE', 'file');
define('DEBUG_DEVELOPER', 32767);

$DEBUGGING = [];

/** A language string: its identifier and any argument, never a translation (the driver reports them). */
function get_string($identifier, $component = '', $a = null) {
    return "[[{$component}:{$identifier}" . ($a === null ? '' : ': ' . json_encode($a)) . ']]';
}

function debugging($message = '', $level = 0) {
    global $DEBUGGING;
    $DEBUGGING[] = $message;
    return true;
}

function get_config($plugin, $name = null) {
    return 0;
}

function s($text) {
    return htmlspecialchars((string) $text, ENT_QUOTES, 'UTF-8');
}

function fullclone($thing) {
    return unserialize(serialize($thing));
}

/**
 * clean_param() for names and category names, PARAM_TEXT: the valid UTF-8 text with every tag
 * removed. (Moodle keeps well-formed multilang <lang>/<span class="multilang"> tags too; a name
 * or category written by elbo-sym has no tag, so the driver reports any tag it strips.) The
 * import's other use, PARAM_FILE for the old <image> tag, is never reached by our quizzes.
 */
function clean_param($param, $type) {
    $text = mb_convert_encoding((string) $param, 'UTF-8', 'UTF-8');
    if ($type === PARAM_TEXT) {
        return strip_tags($text);
    }
    throw new Exception("clean_param type $type not stubbed");
}

/** Moodle shortens a name longer than 255 characters; the driver marks where it would. */
function shorten_text($text, $length) {
    return mb_substr($text, 0, $length) . '...';
}

class core_text {
    public static function strlen($text) {
        return mb_strlen($text, 'UTF-8');
    }
    public static function trim_utf8_bom($text) {
        return strncmp($text, "\xef\xbb\xbf", 3) === 0 ? substr($text, 3) : $text;
    }
}

class moodle_exception extends Exception {
    public function __construct($errorcode, $module = '', $link = '', $a = null) {
        parent::__construct(get_string($errorcode, $module, $a));
    }
}

class core_tag_tag {
    public static function is_enabled($component, $itemtype) {
        return false;
    }
}

class question_bank {
    public static function get_qtype($name, $mustexist = true) {
        return null;
    }
    public static function get_all_qtypes() {
        return [];
    }
}

class qtype_multichoice_base {
    const LAYOUT_DROPDOWN = 0;
    const LAYOUT_VERTICAL = 1;
    const LAYOUT_HORIZONTAL = 2;
}

/** The check the numerical question type makes of an answer: a number and no unit left over. */
class qtype_numerical {
    public static function is_valid_number(string $x): bool {
        $processor = new qtype_numerical_answer_processor([]);
        [$value, $unit] = $processor->apply_units($x);
        return !is_null($value) && !$unit;
    }
}

// ------------------------------------------------------------------ Moodle's code

/** Evaluate the part of a Moodle file from $marker (at the start of a line) to its end (see the header). */
function load_from($path, $marker) {
    $source = file_get_contents($path);
    $start = $source === false ? false : strpos($source, $marker);
    if ($start === false) {
        fwrite(STDERR, "moodle_import: no '$marker' in $path\n");
        exit(2);
    }
    eval(substr($source, $start));
}

require_once($CFG->dirroot . '/question/format.php');
require_once($CFG->dirroot . '/question/format/xml/format.php');
if (!class_exists('xml_format_exception')) {
    /** Moodle 4.5 moved it to core\exception (autoloaded there); the reader throws it on malformed XML. */
    class xml_format_exception extends moodle_exception {
        public function __construct($errorstring, $line, $char, $link = '') {
            parent::__construct('errorparsingxml', 'error', $link, "$errorstring at line $line, character $char");
        }
    }
}
load_from($CFG->dirroot . '/question/type/numerical/questiontype.php', "\nclass qtype_numerical_answer_processor ");
load_from($CFG->dirroot . '/question/type/multianswer/questiontype.php', "\n// ANSWER_ALTERNATIVE regexes.");

/** Moodle's XML format, with its file reading and category path splitting opened to the driver. */
class driver_qformat_xml extends qformat_xml {
    public function read_file($path) {
        return $this->readdata($path);
    }
    public function category_names($path) {
        return $this->split_category_path($path);
    }
}

// ------------------------------------------------------------------ import and report

$format = new driver_qformat_xml();
$lines = $format->read_file($quizfile);
ob_start();
$questions = $lines === false ? false : $format->readquestions($lines);
$errors = ob_get_clean();

$report = [];
foreach ($questions ?: [] as $qo) {
    $item = ['qtype' => $qo->qtype];
    if ($qo->qtype === 'category') {
        $item += ['category' => $qo->category, 'names' => $format->category_names($qo->category),
                  'info' => $qo->info, 'infoformat' => $qo->infoformat];
        $report[] = $item;
        continue;
    }
    foreach (['name', 'questiontext', 'questiontextformat', 'generalfeedback', 'generalfeedbackformat',
              'defaultmark', 'penalty', 'idnumber'] as $field) {
        $item[$field] = $qo->$field ?? null;
    }
    if ($qo->qtype === 'multianswer') {
        $item['subquestions'] = [];
        foreach ($qo->options->questions as $position => $sub) {
            $item['subquestions'][] = [
                'position' => $position, 'qtype' => $sub->qtype, 'defaultmark' => $sub->defaultmark,
                'source' => $sub->questiontext['text'], 'answer' => array_values($sub->answer),
                'fraction' => array_values($sub->fraction), 'tolerance' => array_values($sub->tolerance ?? []),
                'valid' => array_map(fn($a) => qtype_numerical::is_valid_number((string) $a), array_values($sub->answer)),
            ];
        }
    }
    if ($qo->qtype === 'essay') {
        foreach (['responseformat', 'responserequired', 'responsefieldlines', 'attachments', 'attachmentsrequired',
                  'graderinfo', 'responsetemplate', 'minwordlimit', 'maxwordlimit'] as $field) {
            $item[$field] = $qo->$field ?? null;
        }
    }
    $report[] = $item;
}

echo json_encode(['questions' => $report, 'importerrors' => $format->importerrors, 'errors' => $errors,
                  'debugging' => $DEBUGGING, 'parsed' => $questions !== false],
                 JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
