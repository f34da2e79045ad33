//! The well-known `.proto` files a schema may import without a reference (the set Confluent's registry and
//! clients bundle), with the package and the top-level and nested type names each one defines; `true` marks
//! an enum. Only names are kept: compatibility treats two uses of one well-known type as the same type.

/// A well-known file: its package and types (names relative to the package).
pub(super) struct KnownFile {
    pub(super) package: &'static str,
    pub(super) types: &'static [(&'static str, bool)],
}

/// The well-known file imported as `path`, if it is one.
pub(super) fn file(path: &str) -> Option<&'static KnownFile> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, f)| f)
}

const fn google(types: &'static [(&'static str, bool)]) -> KnownFile {
    KnownFile { package: "google.protobuf", types }
}

const fn google_type(types: &'static [(&'static str, bool)]) -> KnownFile {
    KnownFile { package: "google.type", types }
}

const M: bool = false;
const E: bool = true;

static FILES: &[(&str, KnownFile)] = &[
    ("google/protobuf/any.proto", google(&[("Any", M)])),
    ("google/protobuf/api.proto", google(&[("Api", M), ("Method", M), ("Mixin", M)])),
    (
        "google/protobuf/descriptor.proto",
        google(&[
            ("FileDescriptorSet", M),
            ("FileDescriptorProto", M),
            ("DescriptorProto", M),
            ("DescriptorProto.ExtensionRange", M),
            ("DescriptorProto.ReservedRange", M),
            ("ExtensionRangeOptions", M),
            ("FieldDescriptorProto", M),
            ("FieldDescriptorProto.Type", E),
            ("FieldDescriptorProto.Label", E),
            ("OneofDescriptorProto", M),
            ("EnumDescriptorProto", M),
            ("EnumDescriptorProto.EnumReservedRange", M),
            ("EnumValueDescriptorProto", M),
            ("ServiceDescriptorProto", M),
            ("MethodDescriptorProto", M),
            ("FileOptions", M),
            ("FileOptions.OptimizeMode", E),
            ("MessageOptions", M),
            ("FieldOptions", M),
            ("FieldOptions.CType", E),
            ("FieldOptions.JSType", E),
            ("OneofOptions", M),
            ("EnumOptions", M),
            ("EnumValueOptions", M),
            ("ServiceOptions", M),
            ("MethodOptions", M),
            ("MethodOptions.IdempotencyLevel", E),
            ("UninterpretedOption", M),
            ("UninterpretedOption.NamePart", M),
            ("FeatureSet", M),
            ("SourceCodeInfo", M),
            ("SourceCodeInfo.Location", M),
            ("GeneratedCodeInfo", M),
            ("GeneratedCodeInfo.Annotation", M),
            ("Edition", E),
        ]),
    ),
    ("google/protobuf/duration.proto", google(&[("Duration", M)])),
    ("google/protobuf/empty.proto", google(&[("Empty", M)])),
    ("google/protobuf/field_mask.proto", google(&[("FieldMask", M)])),
    ("google/protobuf/source_context.proto", google(&[("SourceContext", M)])),
    ("google/protobuf/struct.proto", google(&[("Struct", M), ("Value", M), ("ListValue", M), ("NullValue", E)])),
    ("google/protobuf/timestamp.proto", google(&[("Timestamp", M)])),
    (
        "google/protobuf/type.proto",
        google(&[
            ("Type", M),
            ("Field", M),
            ("Field.Kind", E),
            ("Field.Cardinality", E),
            ("Enum", M),
            ("EnumValue", M),
            ("Option", M),
            ("Syntax", E),
        ]),
    ),
    (
        "google/protobuf/wrappers.proto",
        google(&[
            ("DoubleValue", M),
            ("FloatValue", M),
            ("Int64Value", M),
            ("UInt64Value", M),
            ("Int32Value", M),
            ("UInt32Value", M),
            ("BoolValue", M),
            ("StringValue", M),
            ("BytesValue", M),
        ]),
    ),
    ("google/type/calendar_period.proto", google_type(&[("CalendarPeriod", E)])),
    ("google/type/color.proto", google_type(&[("Color", M)])),
    ("google/type/date.proto", google_type(&[("Date", M)])),
    ("google/type/datetime.proto", google_type(&[("DateTime", M), ("TimeZone", M)])),
    ("google/type/dayofweek.proto", google_type(&[("DayOfWeek", E)])),
    ("google/type/decimal.proto", google_type(&[("Decimal", M)])),
    ("google/type/expr.proto", google_type(&[("Expr", M)])),
    ("google/type/fraction.proto", google_type(&[("Fraction", M)])),
    ("google/type/interval.proto", google_type(&[("Interval", M)])),
    ("google/type/latlng.proto", google_type(&[("LatLng", M)])),
    ("google/type/localized_text.proto", google_type(&[("LocalizedText", M)])),
    ("google/type/money.proto", google_type(&[("Money", M)])),
    ("google/type/month.proto", google_type(&[("Month", E)])),
    ("google/type/phone_number.proto", google_type(&[("PhoneNumber", M), ("PhoneNumber.ShortCode", M)])),
    ("google/type/postal_address.proto", google_type(&[("PostalAddress", M)])),
    ("google/type/quaternion.proto", google_type(&[("Quaternion", M)])),
    ("google/type/timeofday.proto", google_type(&[("TimeOfDay", M)])),
    ("confluent/meta.proto", KnownFile { package: "confluent", types: &[("Meta", M)] }),
    ("confluent/type/decimal.proto", KnownFile { package: "confluent.type", types: &[("Decimal", M)] }),
];
