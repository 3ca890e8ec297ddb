package org.rapaio.jupyter.kernel.channels;

/**
 * zoo4j's replacement for rapaio-jupyter-kernel 3.0.1's {@code LoopThread}; notebooks/run.sh compiles it and puts it
 * ahead of the kernel jar on the kernel's class path.
 *
 * <p>The published class calls {@code Thread.start()} before it sets its running flag. A new thread that gets a core
 * at once reads the flag as still false and ends before its first poll, silently. When that thread is the shell's, the
 * kernel binds its ports and never answers, and nbconvert fails with "Kernel didn't respond in 90 seconds": 5 of 25
 * kernel starts on a 2-core machine (-Xlog:os+thread showed "Shell-0" exiting 3 ms after it started, no exception).
 * This class keeps the published constructor and methods and sets the flag first.
 */
public final class LoopThread extends Thread {

    private volatile boolean running;
    private final long pauseMillis;
    private final Runnable body;

    public LoopThread(String name, long pauseMillis, Runnable body) {
        super(name);
        this.pauseMillis = pauseMillis;
        this.body = body;
    }

    @Override
    public synchronized void start() {
        running = true; // before the thread exists, so its first check sees it
        super.start();
    }

    @Override
    public void run() {
        while (running) {
            body.run();
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                running = false;
            }
        }
    }

    public void shutdown() {
        running = false;
    }
}
