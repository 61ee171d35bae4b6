<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;

/**
 * Every public method and constructor of the extension's classes (found by
 * reflection), called with random arguments by tests/support/Fuzzer.php in child
 * PHP processes against a real mosquitto: only a normal return, an
 * Mqtt\MqttException, a \ValueError or a \TypeError may come out. A Rust panic, any
 * other exception, a crash, a fatal error or a call blocking more than 5 s past
 * its timeout is a defect, reported with its seed, call number, method and arguments.
 *
 * By default 20,000 calls with a fixed seed, in children of 2,000 calls (child i
 * uses seed MQTT_FUZZ_SEED + i). A longer run by hand, with no time budget:
 *
 *   MQTT_FUZZ_CALLS=500000 MQTT_FUZZ_SEED=7 MQTT_BROADCAST_EXT=... php -d extension=... \
 *       /usr/bin/phpunit -c tests/php/phpunit.xml --filter FuzzTest
 *
 * MQTT_FUZZ_CHILD_CALLS sets the calls per child. To replay a defect reported for
 * seed S at call N: MQTT_FUZZ_SEED=S MQTT_FUZZ_CALLS=N+1 MQTT_FUZZ_CHILD_CALLS=N+1
 * (the arguments are drawn the same way; which pooled object a call gets can
 * differ with timing, the arguments in the report are what was passed).
 * MQTT_FUZZ_TRACE=/some/file appends every call to that file before it is made,
 * to follow what led to a defect.
 */
final class FuzzTest extends MqttTestCase
{
    private const SEED = 1313;
    private const CALLS = 20_000;
    private const CALLS_PER_CHILD = 2_000;
    private const PARALLEL = 3;
    /** Seconds the default run may take: it stays under PHPUnit's time limit. */
    private const BUDGET = 85.0;
    /** A child that starts no new call for this long is hung (a call may take 0.3 s + 5 s of slack). */
    private const STALL = 20.0;

    public function testEveryPublicMethodSurvivesRandomArguments(): void
    {
        $byHand = getenv('MQTT_FUZZ_CALLS') !== false && getenv('MQTT_FUZZ_CALLS') !== '';
        $seed = (int) (getenv('MQTT_FUZZ_SEED') ?: self::SEED);
        $calls = $byHand ? (int) getenv('MQTT_FUZZ_CALLS') : self::CALLS;
        $perChild = (int) (getenv('MQTT_FUZZ_CHILD_CALLS') ?: self::CALLS_PER_CHILD);
        $budget = $byHand ? INF : self::BUDGET;
        $broker = static::broker();
        $deadPort = Broker::freePort();

        $started = microtime(true);
        $planned = 0;
        $executed = 0;
        $children = 0;
        $running = [];
        $defects = [];
        $outcomes = [];
        $warnings = [];
        // Children cut short early are replaced, but not forever.
        $maxChildren = 3 * (int) ceil($calls / $perChild) + 10;
        $more = static function () use (&$planned, &$children, $calls, $started, $budget, $maxChildren): bool {
            return $planned < $calls && microtime(true) - $started < $budget && $children < $maxChildren;
        };
        while ($running !== [] || $more()) {
            while (count($running) < self::PARALLEL && $more()) {
                $count = min($perChild, $calls - $planned);
                $running[] = $this->startChild($broker->port(), $deadPort, $seed + $children++, $count);
                $planned += $count;
            }
            foreach (array_keys($running) as $i) {
                $result = $this->poll($running[$i]);
                if ($result === null) {
                    continue;
                }
                unset($running[$i]);
                $executed += $result['executed'];
                // A child cut short leaves its calls to another child with a new seed.
                $planned -= $result['planned'] - $result['executed'];
                array_push($defects, ...$result['defects']);
                foreach ($result['outcomes'] as $outcome => $n) {
                    $outcomes[$outcome] = ($outcomes[$outcome] ?? 0) + $n;
                }
                $warnings += array_fill_keys($result['warnings'], true);
            }
            usleep(20_000);
        }

        ksort($outcomes);
        $summary = sprintf(
            "%d calls in %d children (seeds %d to %d), %.0f s. Outcomes:\n  %s%s",
            $executed,
            $children,
            $seed,
            $seed + $children - 1,
            microtime(true) - $started,
            implode("\n  ", array_map(fn ($o, $n) => "$o: $n", array_keys($outcomes), $outcomes)),
            $warnings === [] ? '' : "\nPHP warnings seen (not counted as defects):\n  " . implode("\n  ", array_keys($warnings))
        );
        if ($defects !== []) {
            $this->fail(self::describeDefects($defects) . "\n\n" . $summary);
        }
        $this->assertGreaterThanOrEqual($calls, $executed, "the fuzzer did not make its calls within {$budget}s:\n$summary");
        $this->assertGreaterThan(0, array_sum(array_filter($outcomes, fn ($o) => str_ends_with($o, ': returned'), ARRAY_FILTER_USE_KEY)), $summary);
    }

    /** @return array{child: PhpChild, seed: int, calls: int, current: string, last: string, changed: float} */
    private function startChild(int $port, int $deadPort, int $seed, int $calls): array
    {
        $current = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-fuzz-current-');
        $child = PhpChild::start(sprintf(
            "require %s;\nexit(MqttBroadcast\\Tests\\Support\\Fuzzer::main(%d, %d, %d, %d, %s));\n",
            var_export(dirname(__DIR__) . '/support/autoload.php', true),
            $port,
            $deadPort,
            $seed,
            $calls,
            var_export($current, true)
        ));
        return ['child' => $child, 'seed' => $seed, 'calls' => $calls, 'current' => $current, 'last' => '', 'changed' => microtime(true)];
    }

    /**
     * Null while the child runs; once it ended (or hung and was killed), what it did.
     *
     * @param array{child: PhpChild, seed: int, calls: int, current: string, last: string, changed: float} $state
     * @return array{planned: int, executed: int, defects: list<array<string, mixed>>, outcomes: array<string, int>, warnings: list<string>}|null
     */
    private function poll(array &$state): ?array
    {
        $child = $state['child'];
        $current = (string) @file_get_contents($state['current']);
        $hung = false;
        if ($current !== $state['last']) {
            $state['last'] = $current;
            $state['changed'] = microtime(true);
        } elseif ($child->isRunning() && microtime(true) - $state['changed'] > self::STALL) {
            $hung = true;
            $child->kill();
        }
        if ($child->isRunning()) {
            return null;
        }

        $defects = [];
        $done = null;
        foreach ($child->lines() as $line) {
            if (str_starts_with($line, 'DEFECT ')) {
                $defects[] = json_decode(substr($line, 7), true);
            } elseif (str_starts_with($line, 'DONE ')) {
                $done = json_decode(substr($line, 5), true);
            }
        }
        $currentCall = json_decode($current, true);
        $at = is_array($currentCall) ? $currentCall : ['seed' => $state['seed'], 'call' => null, 'method' => null, 'args' => $current];
        $exitCode = $child->exitCode();
        $stderr = $child->stderr();
        $processDefect = static fn (string $problem) => $at + [
            'problem' => $problem,
            'class' => null,
            'message' => Failure::tail($stderr, 8),
        ];
        if ($hung) {
            $defects[] = $processDefect(sprintf('hung: no call for %.0f s, the process was killed', self::STALL));
        } elseif ($done === null) {
            // 128 + the signal number when a signal ended it; PHP's fatal errors exit with 255.
            $defects[] = $processDefect($exitCode !== null && $exitCode > 128 && $exitCode < 192
                ? sprintf('crashed the process (signal %d)', $exitCode - 128)
                : "ended the process (exit code $exitCode, a fatal error?)");
        } elseif ($exitCode !== 0) {
            $defects[] = $processDefect("the process exited with code $exitCode after its last call");
        }
        if (preg_match_all('/^.*(panicked|Rust panic).*$/m', $stderr, $panics)) {
            $defects[] = $at + [
                'call' => null,
                'method' => '(any: stderr of the child)',
                'problem' => 'a Rust panic written to stderr (on another thread, or caught)',
                'class' => null,
                'message' => implode("\n", array_slice(array_unique($panics[0]), 0, 5)),
                'args' => 'see the calls of this seed',
            ];
        }
        @unlink($state['current']);
        return [
            'planned' => $state['calls'],
            'executed' => $done['calls'] ?? (is_int($at['call'] ?? null) ? $at['call'] : 0),
            'defects' => $defects,
            'outcomes' => $done['outcomes'] ?? [],
            'warnings' => $done['warnings'] ?? [],
        ];
    }

    /** @param list<array<string, mixed>> $defects */
    private static function describeDefects(array $defects): string
    {
        $kinds = [];
        foreach ($defects as $defect) {
            $message = (string) ($defect['message'] ?? '');
            $signature = implode(' | ', [
                $defect['method'] ?? '',
                $defect['problem'] ?? '',
                $defect['class'] ?? '',
                substr((string) preg_replace(['/"[^"]*"/', '/\d+/'], ['"…"', 'N'], $message), 0, 100),
            ]);
            $kinds[$signature] ??= ['count' => 0, 'example' => $defect];
            $kinds[$signature]['count']++;
        }
        $lines = [];
        foreach ($kinds as $kind) {
            $e = $kind['example'];
            $lines[] = sprintf(
                "- %s: %s%s (%d time(s))\n    e.g. seed %s, call %s: %s",
                $e['method'] ?? '?',
                $e['problem'] ?? '?',
                ($e['class'] ?? null) !== null ? " {$e['class']}: {$e['message']}" : (($e['message'] ?? '') !== '' ? "\n    " . str_replace("\n", "\n    ", (string) $e['message']) : ''),
                $kind['count'],
                var_export($e['seed'] ?? null, true),
                var_export($e['call'] ?? null, true),
                $e['args'] ?? '?'
            );
        }
        return sprintf("%d defect(s) of %d kind(s) (each child reports its first 200):\n%s", count($defects), count($kinds), implode("\n", $lines));
    }
}
