<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * Runs PHP expressions ("probes") with the extension under test in child PHP
 * processes, so that one that crashes the process (SIGSEGV, a Rust abort), kills
 * it with a fatal error or never returns is reported as such instead of taking
 * PHPUnit down with it.
 *
 * The child runs $setup once, then each probe in order inside try/catch, and
 * prints one JSON line before and one after each. A probe that takes its process
 * down is reported (ProbeOutcome::CRASHED, DIED, HUNG) and the probes after it
 * run in a fresh child, which runs $setup again.
 *
 * Setup code may use the helpers the child defines:
 * - probe_await_connected(Mqtt\Client $client): waits (up to 10 s) until it is connected.
 */
final class Probes
{
    private const SETUP_TIMEOUT = 30.0;
    /** A process flushes what it published at exit, bounded by flush_timeout. */
    private const EXIT_TIMEOUT = 30.0;

    /** @var array<string, ProbeOutcome> */
    private array $outcomes = [];
    /** @var list<string> what went wrong after every probe of a child had finished */
    private array $exitProblems = [];
    private string $stderr = '';

    private function __construct()
    {
    }

    /**
     * @param string $setup PHP statements run once per child before the probes (without "<?php")
     * @param array<string, string> $probes label => PHP expression; the variables of $setup are in scope
     * @param float $timeout seconds one probe may take before it counts as hung
     */
    public static function run(string $setup, array $probes, float $timeout = 20.0): self
    {
        $run = new self();
        $labels = array_keys($probes);
        while ($labels !== []) {
            $labels = $run->runChild($setup, $probes, $labels, $timeout);
        }
        return $run;
    }

    /** Runs one probe alone. */
    public static function one(string $setup, string $expression, float $timeout = 20.0): ProbeOutcome
    {
        $run = self::run($setup, ['probe' => $expression], $timeout);
        $run->assertChildrenEndedCleanly();
        return $run->outcome('probe');
    }

    public function outcome(string $label): ProbeOutcome
    {
        return $this->outcomes[$label] ?? throw new \LogicException("no probe labelled \"$label\"");
    }

    /** @return array<string, ProbeOutcome> */
    public function outcomes(): array
    {
        return $this->outcomes;
    }

    /** Everything the children wrote to stderr. */
    public function stderr(): string
    {
        return $this->stderr;
    }

    /**
     * Fails when a child that had run all its probes did not then exit with
     * code 0 (a crash or hang at exit), or when a child wrote a Rust panic to
     * stderr (a panic on another thread never reaches PHP as an exception).
     */
    public function assertChildrenEndedCleanly(): void
    {
        $problems = $this->exitProblems;
        if (preg_match('/panicked|Rust panic/', $this->stderr)) {
            $problems[] = "a child wrote a Rust panic to stderr:\n" . Failure::tail($this->stderr, 20);
        }
        if ($problems !== []) {
            Failure::raise(implode("\n", $problems));
        }
    }

    /**
     * @param array<string, string> $probes
     * @param list<string> $labels the probes still to run, in order
     * @return list<string> the probes still to run after this child
     */
    private function runChild(string $setup, array $probes, array $labels, float $timeout): array
    {
        $child = PhpChild::start(self::script($setup, array_map(fn (string $label) => $probes[$label], $labels)));
        $started = null;
        $done = [];
        $ready = false;
        $finished = false;
        $parsed = 0;
        $lastProgress = microtime(true);
        $killed = false;
        while (true) {
            $running = $child->isRunning();
            $lines = $child->lines();
            for (; $parsed < count($lines); $parsed++) {
                $line = json_decode($lines[$parsed], true);
                if (!is_array($line)) {
                    continue;
                }
                $lastProgress = microtime(true);
                if (isset($line['ready'])) {
                    $ready = true;
                } elseif (isset($line['start'])) {
                    $started = $line['start'];
                } elseif (isset($line['done'])) {
                    $done[$line['done']] = $line;
                } elseif (isset($line['finished'])) {
                    $finished = true;
                }
            }
            if (!$running) {
                break;
            }
            $limit = !$ready ? self::SETUP_TIMEOUT : ($finished ? self::EXIT_TIMEOUT : $timeout);
            if (microtime(true) - $lastProgress > $limit) {
                $killed = true;
                $child->kill();
                break;
            }
            usleep(5_000);
        }
        $exitCode = $child->exitCode();
        $stderr = $child->stderr();
        $this->stderr .= $stderr;
        if (!$ready) {
            Failure::raise(($killed ? 'the probe setup did not finish' : 'the probe setup failed') . ":\n" . $child->describe());
        }

        foreach ($done as $index => $line) {
            $label = $labels[$index];
            $this->outcomes[$label] = new ProbeOutcome(
                $label,
                $probes[$label],
                $line['kind'],
                $line['class'] ?? null,
                $line['message'] ?? null,
                $line['value'] ?? null
            );
        }
        if ($started !== null && !isset($done[$started])) {
            $label = $labels[$started];
            // 128 + the signal number when a signal ended it; PHP's fatal errors exit with 255.
            $kind = $killed ? ProbeOutcome::HUNG : ($exitCode !== null && $exitCode > 128 && $exitCode < 192 ? ProbeOutcome::CRASHED : ProbeOutcome::DIED);
            $this->outcomes[$label] = new ProbeOutcome($label, $probes[$label], $kind, null, null, null, $exitCode, Failure::tail($stderr, 15));
            return array_slice($labels, $started + 1);
        }
        if (!$finished) {
            $after = $started === null ? 'before its first probe' : "after probe \"{$labels[$started]}\" had finished";
            $this->exitProblems[] = "a probe child ended $after (exit code " . var_export($exitCode, true) . "):\n" . $child->describe();
            return $started === null ? [] : array_slice($labels, $started + 1);
        }
        if ($killed) {
            $this->exitProblems[] = "a probe child did not exit after its last probe:\n" . $child->describe();
        } elseif ($exitCode !== 0) {
            $this->exitProblems[] = "a probe child ended with exit code $exitCode after its last probe:\n" . $child->describe();
        }
        return [];
    }

    /** @param list<string> $expressions */
    private static function script(string $setup, array $expressions): string
    {
        $code = <<<'PHP'
            <?php
            function probe_report(array $line): void
            {
                fwrite(STDOUT, json_encode($line, JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR) . "\n");
            }

            function probe_describe(mixed $value): string
            {
                if ($value instanceof Mqtt\Message) {
                    return 'Mqtt\Message with payload ' . var_export($value->payload, true);
                }
                if (is_object($value)) {
                    return get_class($value);
                }
                if (is_array($value)) {
                    return 'array of ' . count($value);
                }
                return var_export($value, true);
            }

            function probe_await_connected(Mqtt\Client $client): void
            {
                $deadline = microtime(true) + 10.0;
                while (!$client->status()['connected']) {
                    if (microtime(true) >= $deadline) {
                        throw new RuntimeException('probe setup: not connected within 10 s: ' . json_encode($client->status()));
                    }
                    usleep(5_000);
                }
            }

            PHP;
        $code .= $setup . "\nprobe_report(['ready' => true]);\n";
        foreach ($expressions as $index => $expression) {
            $code .= <<<PHP
                probe_report(['start' => $index]);
                try {
                    \$probeValue = ($expression);
                    \$probeDescription = probe_describe(\$probeValue);
                    // Released here, so that a crash in a destructor is blamed on this probe.
                    unset(\$probeValue);
                    probe_report(['done' => $index, 'kind' => 'returned', 'value' => \$probeDescription]);
                } catch (\\Throwable \$probeError) {
                    probe_report(['done' => $index, 'kind' => 'threw', 'class' => get_class(\$probeError), 'message' => \$probeError->getMessage()]);
                }
                unset(\$probeValue, \$probeError);

                PHP;
        }
        return $code . "probe_report(['finished' => true]);\n";
    }
}
