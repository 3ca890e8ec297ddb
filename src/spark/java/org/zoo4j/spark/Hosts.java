package org.zoo4j.spark;

import java.net.InetAddress;
import java.net.UnknownHostException;
import org.apache.spark.SparkEnv;

/** Where code runs, for messages: host name and Spark executor id. */
final class Hosts {
    private Hosts() {
    }

    static String here() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "?";
        }
        SparkEnv env = SparkEnv.get();
        return host + (env == null ? "" : " (executor " + env.executorId() + ")");
    }
}
