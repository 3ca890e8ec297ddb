package org.zoo4j.base;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.cfg.MapperBuilder;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** JSON and YAML for configs and model cards, and overrides by dotted key ("updater.learningRate"). */
public final class Configs {
    private static final JsonMapper JSON = configure(JsonMapper.builder()).build();
    private static final YAMLMapper YAML = configure(YAMLMapper.builder(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES).build())).build();

    private Configs() {
    }

    private static <M extends ObjectMapper, B extends MapperBuilder<M, B>> B configure(B b) {
        return b.enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
                .addModule(choices())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(SerializationFeature.INDENT_OUTPUT)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
    }

    /**
     * zoo4j's closed sets (its enums) are written as their lower-case names and read in any case, with an error that
     * names the setting and lists the choices ({@link Choices}). DL4J's enums keep Jackson's defaults.
     */
    @SuppressWarnings({"rawtypes", "unchecked"})
    private static SimpleModule choices() {
        SimpleModule module = new SimpleModule("zoo4j-choices");
        module.addSerializer(Enum.class, new StdSerializer<>(Enum.class) {
            @Override
            public void serialize(Enum value, JsonGenerator gen, SerializerProvider provider) throws IOException {
                gen.writeString(isOwn(value.getDeclaringClass()) ? Choices.name(value) : value.name());
            }
        });
        module.setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public JsonDeserializer<?> modifyEnumDeserializer(DeserializationConfig config, JavaType type,
                                                              BeanDescription description,
                                                              JsonDeserializer<?> deserializer) {
                Class raw = type.getRawClass();
                return isOwn(raw) ? new ChoiceDeserializer(raw) : deserializer;
            }
        });
        return module;
    }

    private static boolean isOwn(Class<?> type) {
        return type.getName().startsWith("org.zoo4j.");
    }

    /** Reads one of zoo4j's enums by name, naming the dotted setting in the error. */
    private static final class ChoiceDeserializer<E extends Enum<E>> extends StdScalarDeserializer<E> {
        private final Class<E> type;

        ChoiceDeserializer(Class<E> type) {
            super(type);
            this.type = type;
        }

        @Override
        public E deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            List<String> path = new ArrayList<>();
            for (JsonStreamContext c = p.getParsingContext(); c != null; c = c.getParent()) {
                if (c.getCurrentName() != null) {
                    path.add(0, c.getCurrentName());
                }
            }
            return Choices.parse(type, path.isEmpty() ? type.getSimpleName() : String.join(".", path),
                    p.getValueAsString());
        }
    }

    public static ObjectMapper json() {
        return JSON;
    }

    public static ObjectMapper yaml() {
        return YAML;
    }

    public static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String toYaml(Object value) {
        try {
            return YAML.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static <T> T fromJson(String text, Class<T> type) {
        return read(JSON, text, type);
    }

    public static <T> T fromYaml(String text, Class<T> type) {
        return read(YAML, text, type);
    }

    private static <T> T read(ObjectMapper mapper, String text, Class<T> type) {
        try {
            return mapper.readValue(text, type);
        } catch (JsonProcessingException e) {
            throw new ConfigException(describe(e, type), e);
        }
    }

    /**
     * A copy of {@code config} with the overrides applied. Keys are setting names, dotted for nested ones
     * ("updater.learningRate"); values may be strings, as they come from a command line. An unknown key is an error that
     * lists the known ones.
     */
    @SuppressWarnings("unchecked")
    public static <C> C override(C config, Map<String, ?> overrides) {
        if (overrides == null || overrides.isEmpty()) {
            return config;
        }
        ObjectNode tree = JSON.valueToTree(config);
        for (Map.Entry<String, ?> e : overrides.entrySet()) {
            String[] path = e.getKey().split("\\.");
            ObjectNode node = tree;
            JavaType type = JSON.constructType(config.getClass());
            for (int i = 0; i < path.length - 1; i++) {
                JsonNode child = node.get(path[i]);
                JavaType childType = settingType(type, path[i]);
                if ((child == null || child.isNull()) && childType != null && !childType.isContainerType()
                        && !childType.isPrimitive() && !childType.isEnumType()) {
                    // A nested setting left out (null, so not written): start it empty; its defaults fill the rest.
                    child = node.putObject(path[i]);
                }
                if (!(child instanceof ObjectNode)) {
                    throw unknownKey(e.getKey(), path[i], node, type);
                }
                node = (ObjectNode) child;
                type = childType;
            }
            String leaf = path[path.length - 1];
            if (!node.has(leaf) && settingType(type, leaf) == null) {
                throw unknownKey(e.getKey(), leaf, node, type);
            }
            node.set(leaf, valueNode(e.getValue(), node.get(leaf)));
        }
        try {
            return (C) JSON.treeToValue(tree, config.getClass());
        } catch (JsonProcessingException ex) {
            throw new ConfigException(describe(ex, config.getClass()), ex);
        } catch (IllegalArgumentException ex) {
            throw unwrap(ex);
        }
    }

    /** Turns a command-line string into the JSON type of the setting it replaces ("[3,3,3]" into a list, etc.). */
    private static JsonNode valueNode(Object value, JsonNode current) {
        if (value instanceof String s && current != null && (current.isArray() || current.isObject())) {
            try {
                String text = s.trim();
                if (current.isArray() && !text.startsWith("[")) {
                    text = "[" + text + "]";
                }
                return YAML.readTree(text);
            } catch (JsonProcessingException ex) {
                throw new ConfigException("cannot read '" + s + "' as a " + (current.isArray() ? "list" : "map"));
            }
        }
        return JSON.valueToTree(value);
    }

    /**
     * The type of setting {@code name} of {@code type} (a config record, or a map whose keys are free), or null when
     * there is no such setting. Settings left out of the JSON tree because they are null are found here.
     */
    private static JavaType settingType(JavaType type, String name) {
        if (type == null) {
            return null;
        }
        if (type.isMapLikeType()) {
            return type.getContentType();
        }
        for (BeanPropertyDefinition p : JSON.getDeserializationConfig().introspect(type).findProperties()) {
            if (p.getName().equals(name)) {
                return p.getPrimaryType();
            }
        }
        return null;
    }

    private static IllegalArgumentException unknownKey(String key, String part, ObjectNode node, JavaType type) {
        List<String> known = new ArrayList<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            known.add(it.next());
        }
        if (type != null && !type.isMapLikeType()) {
            for (BeanPropertyDefinition p : JSON.getDeserializationConfig().introspect(type).findProperties()) {
                if (!known.contains(p.getName())) {
                    known.add(p.getName());
                }
            }
        }
        return new ConfigException("unknown setting '" + key + "' ('" + part + "' is not one of " + known + ")");
    }

    /** Jackson wraps the exception of a record's validation; the user wants that message, as a user error. */
    private static UserInputException unwrap(IllegalArgumentException ex) {
        for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof UserInputException user) {
                return user;
            }
        }
        return new ConfigException(ex.getMessage(), ex);
    }

    private static String describe(JsonProcessingException e, Class<?> type) {
        for (Throwable t = e.getCause(); t != null && t != t.getCause(); t = t.getCause()) {
            if (t instanceof IllegalArgumentException && !(t instanceof JacksonException)) {
                return t.getMessage(); // a record's own validation: it names the setting
            }
        }
        if (e instanceof UnrecognizedPropertyException u) {
            String where = path(u.getPath().subList(0, u.getPath().size() - 1));
            return "unknown setting '" + (where.isEmpty() ? "" : where + ".") + u.getPropertyName() + "'; known"
                    + (where.isEmpty() ? "" : " in " + where) + ": " + u.getKnownPropertyIds();
        }
        if (e instanceof MismatchedInputException m && !m.getPath().isEmpty()) {
            Object value = m instanceof InvalidFormatException f ? f.getValue() : null;
            return path(m.getPath()) + ": expected " + kind(m.getTargetType())
                    + (value != null ? ", got '" + value + "'" : "");
        }
        if (e instanceof JsonParseException) {
            return "not valid YAML or JSON" + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr()) + ": " + e.getOriginalMessage();
        }
        return "invalid " + type.getSimpleName() + ": " + e.getOriginalMessage();
    }

    /** A setting's dotted name from Jackson's path ("data.augment.rotate", "milestones[2]"). */
    private static String path(List<JsonMappingException.Reference> references) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : references) {
            if (r.getFieldName() != null) {
                b.append(b.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    /** What a value of {@code type} looks like, in words. */
    private static String kind(Class<?> type) {
        if (type == null) {
            return "another kind of value";
        }
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "a whole number";
        }
        if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
            return "a number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "text";
        }
        if (type.isEnum()) {
            return "one of " + Arrays.stream(type.getEnumConstants()).map(c -> Choices.name((Enum<?>) c)).toList();
        }
        if (List.class.isAssignableFrom(type) || type.isArray()) {
            return "a list";
        }
        return "a mapping of settings (name: value)";
    }
}
