package org.zoo4j.zoo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.ArrayList;
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

    private static <M extends ObjectMapper, B extends com.fasterxml.jackson.databind.cfg.MapperBuilder<M, B>> B configure(B b) {
        return b.enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(SerializationFeature.INDENT_OUTPUT)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
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
            throw new IllegalArgumentException(describe(e, type), e);
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
            throw new IllegalArgumentException(describe(ex, config.getClass()), ex);
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
                throw new IllegalArgumentException("cannot read '" + s + "' as a " + (current.isArray() ? "list" : "map"));
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
        return new IllegalArgumentException("unknown setting '" + key + "' ('" + part + "' is not one of " + known + ")");
    }

    /** Jackson wraps the IllegalArgumentException of a record's validation; the user wants that message. */
    private static IllegalArgumentException unwrap(IllegalArgumentException ex) {
        Throwable t = ex;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (t instanceof IllegalArgumentException iae && !(t instanceof com.fasterxml.jackson.core.JacksonException)) {
                return iae;
            }
        }
        return ex;
    }

    private static String describe(JsonProcessingException e, Class<?> type) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (t instanceof IllegalArgumentException && !(t instanceof com.fasterxml.jackson.core.JacksonException)) {
                return t.getMessage();
            }
        }
        if (e instanceof com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException u) {
            return "unknown setting '" + u.getPropertyName() + "' for " + type.getSimpleName() + "; known: "
                    + u.getKnownPropertyIds();
        }
        return "invalid " + type.getSimpleName() + ": " + e.getOriginalMessage();
    }
}
