<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\ConfigException;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\ProbeOutcome;
use MqttBroadcast\Tests\Support\Probes;
use MqttBroadcast\Tests\Support\SecureBroker;

/**
 * Input no caller should send, and what it must become: a clean exception that
 * names the argument or option, never a Rust panic, a crashed process or a hang.
 * Every call runs in a child PHP process (Probes), so that a SIGSEGV or an abort
 * is reported against the call that caused it instead of ending PHPUnit.
 *
 * Which exception, and why:
 * - \ValueError for a bad value of an argument (timeouts, topics, filters, the
 *   clients list, MQTT 5 properties): the README's Errors table and the stub.
 * - Mqtt\ConfigException for a bad option of `new Mqtt\Client` / `new Mqtt\Subscriber`:
 *   the README documents it for an option that "has the wrong type or is out of range".
 * - \TypeError for an argument of the wrong PHP type: what PHP's own functions throw.
 * Labels are PHP's: `argument #N ($name)`, N and name as ReflectionMethod has them.
 *
 * @group protocol
 */
final class BadInputTest extends MqttTestCase
{
    /** Finite, non-negative, beyond what a Duration or an Instant can add: they saturate. */
    private const HUGE_TIMEOUTS = [
        '9.22e18' => '9.22e18',
        'PHP_INT_MAX as a float (2^63)' => '(float) PHP_INT_MAX',
        '1e19' => '1e19',
        '1.8e19' => '1.8e19',
        '2^64, past u64::MAX' => '18446744073709551616.0',
        '1e300' => '1e300',
        'PHP_FLOAT_MAX' => 'PHP_FLOAT_MAX',
    ];

    private const INVALID_TIMEOUTS = [
        'NAN' => 'NAN',
        'INF' => 'INF',
        '-INF' => '-INF',
        '-1.0' => '-1.0',
        '-0.001' => '-0.001',
        '-1e-9' => '-1e-9',
        '-1e300' => '-1e300',
    ];

    /**
     * Every call with a timeout, as [class, method, call with %s for the timeout,
     * what it returns at once with a huge timeout]. The setup (connectedSetup())
     * has an idle connected $client, and $subscriber subscribed to $topic through it.
     */
    private const TIMEOUT_CALLS = [
        'flush()' => ['Mqtt\Client', 'flush', '$client->flush(%s)', 'true'],
        'waitConnected()' => ['Mqtt\Client', 'waitConnected', '$client->waitConnected(%s)', 'true'],
        'publishSync()' => ['Mqtt\Client', 'publishSync', '$client->publishSync($topic, "huge timeout", 1, null, %s)', 'NULL'],
        'subscribe()' => ['Mqtt\Subscriber', 'subscribe', '$subscriber->subscribe($topic . "/more", 1, %s)', 'NULL'],
        'next() with a message waiting' => [
            'Mqtt\Subscriber', 'next',
            '(function () use ($client, $subscriber, $topic) { $client->publishSync($topic, "waiting", 1, null, 10.0); return $subscriber->next(%s); })()',
            "Mqtt\\Message with payload 'waiting'",
        ],
        'next() after stop()' => ['Mqtt\Subscriber', 'next', '(function () use ($subscriber) { $subscriber->stop(); return $subscriber->next(%s); })()', 'NULL'],
        'loop() with a message waiting' => [
            'Mqtt\Subscriber', 'loop',
            '(function () use ($client, $subscriber, $topic) { $client->publishSync($topic, "waiting", 1, null, 10.0); return $subscriber->loop(fn () => null, %s, 1); })()',
            '1',
        ],
        'loop() after stop()' => ['Mqtt\Subscriber', 'loop', '(function () use ($subscriber) { $subscriber->stop(); return $subscriber->loop(fn () => null, timeout: %s); })()', '0'],
    ];

    /** @return iterable<string, array{string}> */
    public static function timeoutCalls(): iterable
    {
        foreach (array_keys(self::TIMEOUT_CALLS) as $call) {
            yield $call => [$call];
        }
    }

    /**
     * A huge finite timeout means "wait a very long time": the call does what it
     * does with any timeout, here returning at once.
     *
     * @dataProvider timeoutCalls
     */
    public function testHugeFiniteTimeoutsSaturateInsteadOfFailing(string $call): void
    {
        [, , $template, $expected] = self::TIMEOUT_CALLS[$call];
        $probes = [];
        foreach (self::HUGE_TIMEOUTS as $label => $timeout) {
            $probes["$call, timeout $label"] = sprintf($template, $timeout);
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static fn (ProbeOutcome $outcome) => $outcome->kind === ProbeOutcome::RETURNED && $outcome->value === $expected
            ? null
            : "expected it to return $expected");
    }

    /**
     * NAN, infinities and negative numbers are no number of seconds to wait.
     *
     * @dataProvider timeoutCalls
     */
    public function testNanInfiniteAndNegativeTimeoutsThrowValueErrorNamingTheArgument(string $call): void
    {
        [$class, $method, $template] = self::TIMEOUT_CALLS[$call];
        $label = self::label($class, $method, 'timeout');
        $probes = [];
        foreach (self::INVALID_TIMEOUTS as $name => $timeout) {
            $probes["$call, timeout $name"] = sprintf($template, $timeout);
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static fn (ProbeOutcome $outcome) => self::problemUnlessThrew($outcome, \ValueError::class, [$label]));
    }

    /** Zero polls, and -0.0 is zero: neither is a negative timeout. */
    public function testZeroAndNegativeZeroTimeoutsAreAccepted(): void
    {
        $probes = [];
        foreach (['0.0', '-0.0'] as $zero) {
            $probes["flush($zero)"] = "\$client->flush($zero)";
            $probes["next($zero)"] = "\$subscriber->next($zero)";
            $probes["loop(timeout: $zero)"] = "\$subscriber->loop(fn () => null, timeout: $zero)";
            // May legitimately time out at once; only a ValueError would be wrong.
            $probes["subscribe(timeout: $zero)"] = "(function () use (\$subscriber, \$topic) { try { \$subscriber->subscribe(\$topic . '/zero', 1, $zero); } catch (Mqtt\\TimeoutException) { } return 'no ValueError'; })()";
            // To a topic nobody subscribed, so that next() and loop() above stay without messages.
            $probes["publishSync(timeout: $zero)"] = "(function () use (\$client, \$topic) { try { \$client->publishSync(\$topic . '-unheard', 'zero', 1, null, $zero); } catch (Mqtt\\TimeoutException) { } return 'no ValueError'; })()";
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static function (ProbeOutcome $outcome): ?string {
            if ($outcome->kind !== ProbeOutcome::RETURNED) {
                return 'expected it to be accepted';
            }
            return match (true) {
                str_starts_with($outcome->label, 'flush') => in_array($outcome->value, ['true', 'false'], true) ? null : 'expected a bool',
                str_starts_with($outcome->label, 'next') => $outcome->value === 'NULL' ? null : 'expected null',
                str_starts_with($outcome->label, 'loop') => $outcome->value === '0' ? null : 'expected 0',
                default => null,
            };
        });
    }

    /**
     * A number in a message reads as PHP prints it: 1.0E+300, not 301 digits;
     * NAN and INF as PHP spells them.
     */
    public function testNumbersInMessagesArePrintedTheWayPhpPrintsThem(): void
    {
        $cases = [
            'publishSync() timeout -1e300' => ['$client->publishSync($topic, "x", 1, null, -1e300)', -1e300],
            'flush() timeout -1e300' => ['$client->flush(-1e300)', -1e300],
            'subscribe() timeout -1e300' => ['$subscriber->subscribe($topic, 1, -1e300)', -1e300],
            'next() timeout -1e300' => ['$subscriber->next(-1e300)', -1e300],
            'loop() timeout -1e300' => ['$subscriber->loop(fn () => null, -1e300)', -1e300],
            'flush() timeout -1.5e-10' => ['$client->flush(-1.5e-10)', -1.5e-10],
            'flush() timeout NAN' => ['$client->flush(NAN)', NAN],
            'flush() timeout INF' => ['$client->flush(INF)', INF],
            'flush() timeout -INF' => ['$client->flush(-INF)', -INF],
            'option keep_alive 1e300' => ['new Mqtt\Client(["keep_alive" => 1e300] + $options, "numbers")', 1e300],
            'option flush_timeout -1e300' => ['new Mqtt\Client(["flush_timeout" => -1e300] + $options, "numbers")', -1e300],
            'option port 1e300' => ['new Mqtt\Client(["port" => 1e300] + $options, "numbers")', 1e300],
            'option reconnect.max_delay NAN' => ['new Mqtt\Client(["reconnect" => ["max_delay" => NAN]] + $options, "numbers")', NAN],
            'option max_inbox 1e300' => ['new Mqtt\Subscriber([$client], ["max_inbox" => 1e300])', 1e300],
        ];
        $expected = [];
        $probes = [];
        foreach ($cases as $label => [$expression, $number]) {
            $probes[$label] = $expression;
            $expected[$label] = (string) $number;
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static function (ProbeOutcome $outcome) use ($expected): ?string {
            if ($outcome->kind !== ProbeOutcome::THREW || !is_a((string) $outcome->class, \ValueError::class, true) && !is_a((string) $outcome->class, ConfigException::class, true)) {
                return 'expected a \ValueError or Mqtt\ConfigException';
            }
            if (preg_match('/\d{25,}/', (string) $outcome->message)) {
                return 'the message spells the number out digit by digit';
            }
            return str_contains((string) $outcome->message, $expected[$outcome->label])
                ? null
                : "expected the message to show the number as PHP prints it: {$expected[$outcome->label]}";
        });
    }

    /** @return iterable<string, array{string, class-string, list<string>}> expression, exception, what its message names */
    public static function recursiveAndDeepArrays(): iterable
    {
        $selfList = '$a = [1]; $a[] = &$a;';
        $deep = '$d = 1; for ($i = 0; $i < 30000; $i++) { $d = [$d]; }';
        yield 'option port: a list holding a reference to itself' => [
            "(function () use (\$options) { $selfList return new Mqtt\\Client(['port' => \$a] + \$options, 'recursive'); })()",
            ConfigException::class, ['port'],
        ];
        yield 'option reconnect: a map holding a reference to itself' => [
            "(function () use (\$options) { \$r = ['initial_delay' => 0.1]; \$r['again'] = &\$r; return new Mqtt\\Client(['reconnect' => \$r] + \$options, 'recursive'); })()",
            ConfigException::class, ['reconnect'],
        ];
        yield 'option tls: a map holding a reference to itself' => [
            "(function () use (\$options) { \$t = ['verify_peer' => false]; \$t['again'] = &\$t; return new Mqtt\\Client(['tls' => \$t] + \$options, 'recursive'); })()",
            ConfigException::class, ['tls'],
        ];
        yield 'options holding a reference to themselves' => [
            "(function () use (\$options) { \$o = \$options; \$o['again'] = &\$o; return new Mqtt\\Client(\$o, 'recursive'); })()",
            ConfigException::class, ['again'],
        ];
        yield 'option port nested 30,000 levels deep' => [
            "(function () use (\$options) { $deep return new Mqtt\\Client(['port' => \$d] + \$options, 'deep'); })()",
            ConfigException::class, ['port'],
        ];
        yield 'option will.payload nested 30,000 levels deep' => [
            "(function () use (\$options) { $deep return new Mqtt\\Client(['will' => ['topic' => 'w', 'payload' => \$d]] + \$options, 'deep'); })()",
            ConfigException::class, ['will.payload'],
        ];
        yield 'options nested 30,000 levels deep' => [
            "(function () { $deep return new Mqtt\\Client(\$d, 'deep'); })()",
            ConfigException::class, ['option'],
        ];
        yield 'Subscriber option max_inbox: a list holding a reference to itself' => [
            "(function () use (\$client) { $selfList return new Mqtt\\Subscriber([\$client], ['max_inbox' => \$a]); })()",
            ConfigException::class, ['max_inbox'],
        ];
        yield 'Subscriber options holding a reference to themselves' => [
            "(function () use (\$client) { \$o = ['max_inbox' => 10]; \$o['again'] = &\$o; return new Mqtt\\Subscriber([\$client], \$o); })()",
            ConfigException::class, ['again'],
        ];
        yield 'Subscriber option max_inbox nested 30,000 levels deep' => [
            "(function () use (\$client) { $deep return new Mqtt\\Subscriber([\$client], ['max_inbox' => \$d]); })()",
            ConfigException::class, ['max_inbox'],
        ];
        yield 'Subscriber clients holding a reference to themselves' => [
            "(function () use (\$client) { \$c = [\$client]; \$c[] = &\$c; return new Mqtt\\Subscriber(\$c); })()",
            \ValueError::class, ['argument #1 ($clients)'],
        ];
        yield 'Subscriber clients with an element nested 30,000 levels deep' => [
            "(function () use (\$client) { $deep return new Mqtt\\Subscriber([\$client, \$d]); })()",
            \ValueError::class, ['argument #1 ($clients)'],
        ];
        yield 'publish() user_properties holding a reference to themselves' => [
            "(function () use (\$client5, \$topic) { $selfList return \$client5->publish(\$topic, 'x', 1, null, ['user_properties' => \$a]); })()",
            \ValueError::class, ['argument #5 ($properties)', 'user_properties'],
        ];
        yield 'publish() user_properties pair holding a reference to itself' => [
            "(function () use (\$client5, \$topic) { \$pair = ['name']; \$pair[] = &\$pair; return \$client5->publish(\$topic, 'x', 1, null, ['user_properties' => [\$pair]]); })()",
            \ValueError::class, ['argument #5 ($properties)', 'user_properties'],
        ];
        yield 'publish() properties holding a reference to themselves' => [
            "(function () use (\$client5, \$topic) { \$p = ['content_type' => 'text/plain']; \$p['again'] = &\$p; return \$client5->publish(\$topic, 'x', 1, null, \$p); })()",
            \ValueError::class, ['argument #5 ($properties)'],
        ];
        yield 'publish() user_properties value nested 30,000 levels deep' => [
            "(function () use (\$client5, \$topic) { $deep return \$client5->publish(\$topic, 'x', 1, null, ['user_properties' => ['name' => \$d]]); })()",
            \ValueError::class, ['argument #5 ($properties)', 'user_properties'],
        ];
        yield 'publish() properties nested 30,000 levels deep' => [
            "(function () use (\$client5, \$topic) { $deep return \$client5->publish(\$topic, 'x', 1, null, \$d); })()",
            \ValueError::class, ['argument #5 ($properties)'],
        ];
        yield 'publishSync() user_properties holding a reference to themselves' => [
            "(function () use (\$client5, \$topic) { $selfList return \$client5->publishSync(\$topic, 'x', 1, null, 5.0, ['user_properties' => \$a]); })()",
            \ValueError::class, ['argument #6 ($properties)', 'user_properties'],
        ];
        yield 'publish() properties on MQTT 3.1.1 holding a reference to themselves' => [
            "(function () use (\$client311, \$topic) { \$p = ['content_type' => 'text/plain']; \$p['again'] = &\$p; return \$client311->publish(\$topic, 'x', 1, null, \$p); })()",
            \ValueError::class, ['argument #5 ($properties)'],
        ];
    }

    /**
     * Arrays that refer to themselves or nest very deep are no option, client
     * list or property: an exception naming it, not a stack overflow.
     *
     * @dataProvider recursiveAndDeepArrays
     * @param class-string $exception
     * @param list<string> $mentions
     */
    public function testRecursiveAndDeeplyNestedArraysAreRejectedNamingTheOptionOrArgument(string $expression, string $exception, array $mentions): void
    {
        $outcome = Probes::one($this->connectedSetup(), $expression, 60.0);

        $this->assertThrew($outcome, $exception, $mentions);
    }

    /** @return iterable<string, array{string, class-string, list<string>}> expression, exception, what its message names */
    public static function nonUtf8Keys(): iterable
    {
        yield 'Client options' => ['new Mqtt\Client(["\xff" => 1] + $options, "keys")', ConfigException::class, []];
        yield 'Client option tls' => ['new Mqtt\Client(["tls" => ["\xff" => 1]] + $options, "keys")', ConfigException::class, ['tls']];
        yield 'Client option reconnect' => ['new Mqtt\Client(["reconnect" => ["\xff" => 1]] + $options, "keys")', ConfigException::class, ['reconnect']];
        yield 'Client option will' => ['new Mqtt\Client(["will" => ["topic" => "w", "\xfe\xff" => 1]] + $options, "keys")', ConfigException::class, ['will']];
        yield 'Subscriber options' => ['new Mqtt\Subscriber([$client], ["\xff" => 1])', ConfigException::class, []];

        yield 'publish() properties' => ['$client5->publish($topic, "x", 1, null, ["\xff" => "v"])', \ValueError::class, ['argument #5 ($properties)']];
        yield 'publish() user_properties names' => ['$client5->publish($topic, "x", 1, null, ["user_properties" => ["\xff" => "v"]])', \ValueError::class, ['argument #5 ($properties)', 'user_properties']];
        yield 'publishSync() properties' => ['$client5->publishSync($topic, "x", 1, null, 5.0, ["\xff" => "v"])', \ValueError::class, ['argument #6 ($properties)']];
        yield 'publishSync() user_properties names' => ['$client5->publishSync($topic, "x", 1, null, 5.0, ["user_properties" => ["a\xc3" => "v"]])', \ValueError::class, ['argument #6 ($properties)', 'user_properties']];
        yield 'publish() properties on MQTT 3.1.1' => ['$client311->publish($topic, "x", 1, null, ["\xff" => "v"])', \ValueError::class, ['argument #5 ($properties)']];
    }

    /**
     * PHP array keys are bytes; option and property names are UTF-8 text. A key
     * that is not UTF-8 is an unknown name, not a panic ("Invalid array key!").
     *
     * @dataProvider nonUtf8Keys
     * @param class-string $exception
     * @param list<string> $mentions
     */
    public function testNonUtf8ArrayKeysAreRejectedCleanly(string $expression, string $exception, array $mentions): void
    {
        $outcome = Probes::one($this->connectedSetup(), $expression);

        $this->assertThrew($outcome, $exception, $mentions);
    }

    /** The clients are a list: its keys, whatever their bytes, say nothing and are not read. */
    public function testTheKeysOfTheClientsListAreNotRead(): void
    {
        $outcome = Probes::one($this->connectedSetup(), 'new Mqtt\Subscriber(["\xff" => $client])');

        $this->assertSame(ProbeOutcome::RETURNED, $outcome->kind, $outcome->describe());
        $this->assertSame('Mqtt\Subscriber', $outcome->value, $outcome->describe());
    }

    /** @return iterable<string, array{string, class-string, list<string>}> expression, exception, what its message names */
    public static function nonUtf8Text(): iterable
    {
        yield 'publish() topic' => ['$client->publish("a/\xff", "x")', \ValueError::class, ['argument #1 ($topic)', 'UTF-8']];
        yield 'publishSync() topic' => ['$client->publishSync("a/\xff", "x", 1, null, 5.0)', \ValueError::class, ['argument #1 ($topic)', 'UTF-8']];
        yield 'publish() topic with an overlong encoding of "/"' => ['$client->publish("a\xc0\xafb", "x")', \ValueError::class, ['argument #1 ($topic)', 'UTF-8']];
        yield 'publish() topic with an encoded UTF-16 surrogate' => ['$client->publish("a/\xed\xa0\x80", "x")', \ValueError::class, ['argument #1 ($topic)', 'UTF-8']];
        yield 'subscribe() filter' => ['$subscriber->subscribe("a/\xff/#", 1, 5.0)', \ValueError::class, ['argument #1 ($filter)', 'UTF-8']];
        yield 'unsubscribe() filter' => ['$subscriber->unsubscribe("a/\xff")', \ValueError::class, ['argument #1 ($filter)', 'UTF-8']];
        yield 'option client_id' => ['new Mqtt\Client(["client_id" => "id-\xff"] + $options, "text")', ConfigException::class, ['client_id', 'UTF-8']];
        yield 'option username' => ['new Mqtt\Client(["username" => "user-\xff", "password" => "p"] + $options, "text")', ConfigException::class, ['username', 'UTF-8']];
        yield 'option prefix' => ['new Mqtt\Client(["prefix" => "app-\xff/"] + $options, "text")', ConfigException::class, ['prefix', 'UTF-8']];
        yield 'option will.topic' => ['new Mqtt\Client(["will" => ["topic" => "gone/\xff"]] + $options, "text")', ConfigException::class, ['will.topic', 'UTF-8']];
        yield 'option host' => ['new Mqtt\Client(["host" => "broker-\xff"] + $options, "text")', ConfigException::class, ['host']];
        yield 'property content_type' => ['$client5->publish($topic, "x", 1, null, ["content_type" => "text/\xff"])', \ValueError::class, ['argument #5 ($properties)', 'content_type', 'UTF-8']];
        yield 'property response_topic' => ['$client5->publishSync($topic, "x", 1, null, 5.0, ["response_topic" => "replies/\xff"])', \ValueError::class, ['argument #6 ($properties)', 'response_topic', 'UTF-8']];
        yield 'property user_properties value' => ['$client5->publish($topic, "x", 1, null, ["user_properties" => ["name" => "\xff"]])', \ValueError::class, ['argument #5 ($properties)', 'user_properties', 'UTF-8']];
    }

    /**
     * MQTT strings (topics, filters, client ids, user names, text properties)
     * must be UTF-8; the message says so and names what was wrong.
     *
     * @dataProvider nonUtf8Text
     * @param class-string $exception
     * @param list<string> $mentions
     */
    public function testNonUtf8TextIsRejectedSayingMqttNeedsUtf8(string $expression, string $exception, array $mentions): void
    {
        $outcome = Probes::one($this->connectedSetup(), $expression);

        $this->assertThrew($outcome, $exception, $mentions);
    }

    /** @return iterable<string, array{string, list<array{class-string, list<string>}>}> expression, the exceptions it may throw and what their message names */
    public static function nulBytes(): iterable
    {
        $closedNamed = '(function () use ($options) { $c = new Mqtt\Client($options, "nul\0name"); $c->close(); return $c->publish("t", "x"); })()';
        // Either way is fine: refuse the name, or take it and report the closed connection.
        yield 'connection name, used after close()' => [$closedNamed, [[\ValueError::class, ['argument #2 ($name)']], [\Mqtt\ConnectionException::class, ['closed']]]];
        yield 'option key' => ['new Mqtt\Client(["k\0k" => 1] + $options, "nul")', [[ConfigException::class, ['unknown option']]]];
        yield 'Subscriber option key' => ['new Mqtt\Subscriber([$client], ["k\0k" => 1])', [[ConfigException::class, ['unknown option']]]];
        yield 'property key' => ['$client5->publish($topic, "x", 1, null, ["k\0k" => 1])', [[\ValueError::class, ['argument #5 ($properties)']]]];
        yield 'user_properties name' => ['$client5->publish($topic, "x", 1, null, ["user_properties" => ["a\0b" => "v"]])', [[\ValueError::class, ['argument #5 ($properties)', 'user_properties']]]];
        yield 'option client_id' => ['new Mqtt\Client(["client_id" => "id\0"] + $options, "nul")', [[ConfigException::class, ['client_id']]]];
        yield 'option will.topic' => ['new Mqtt\Client(["will" => ["topic" => "w\0"]] + $options, "nul")', [[ConfigException::class, ['will.topic']]]];
        yield 'property content_type' => ['$client5->publish($topic, "x", 1, null, ["content_type" => "a\0"])', [[\ValueError::class, ['argument #5 ($properties)', 'content_type']]]];
    }

    /**
     * A NUL byte in a name or key the message quotes must not turn the exception
     * that reports it into an \Error ("cannot throw ...: string contains a NUL byte"):
     * PHP exception messages are C strings.
     *
     * @dataProvider nulBytes
     * @param list<array{class-string, list<string>}> $allowed
     */
    public function testNulBytesInNamesAndKeysAreReportedByTheExceptionMeantForThem(string $expression, array $allowed): void
    {
        $outcome = Probes::one($this->connectedSetup(), $expression);

        $problems = [];
        foreach ($allowed as [$exception, $mentions]) {
            $problem = self::problemUnlessThrew($outcome, $exception, $mentions);
            if ($problem === null) {
                $this->addToAssertionCount(1);
                return;
            }
            $problems[] = $problem;
        }
        $this->fail(implode(', or ', $problems) . "\n" . $outcome->describe());
    }

    /** Payloads, passwords, correlation data and will payloads are binary in MQTT: any bytes go. */
    public function testBinaryFieldsAcceptAnyBytes(): void
    {
        $run = Probes::run($this->connectedSetup(), [
            'payload' => '$client->publishSync($topic, "\xff\xfe\x00x", 1, null, 10.0)',
            'password' => '(function () use ($options, $topic) { $c = new Mqtt\Client(["username" => "u", "password" => "\xff\xfe\x00x"] + $options, "binary-password"); $c->publishSync($topic, "x", 1, null, 10.0); return $c->status()["state"]; })()',
            'correlation_data' => '$client5->publishSync($topic, "x", 1, null, 10.0, ["correlation_data" => "\xff\xfe\x00x"])',
            'will.payload' => '(function () use ($options, $topic) { $c = new Mqtt\Client(["will" => ["topic" => "w", "payload" => "\xff\xfe\x00x"]] + $options, "binary-will"); $c->publishSync($topic, "x", 1, null, 10.0); return $c->status()["state"]; })()',
        ]);

        $this->assertEachOutcome($run, static fn (ProbeOutcome $outcome) => $outcome->kind === ProbeOutcome::RETURNED
            && in_array($outcome->value, ['NULL', "'connected'"], true) ? null : 'expected it to be accepted and delivered');
    }

    /**
     * A binary password reaches the broker as it is: with a password file, the
     * broker (not the extension) says no to a wrong one, and a non-ASCII UTF-8
     * one that is right gets in.
     */
    public function testBinaryPasswordIsSentToTheBrokerWhichJudgesIt(): void
    {
        $secure = SecureBroker::withPasswords(['alice' => 'pässwörd-ünïcode']);
        $broker = $secure->broker();
        $options = fn (string $password) => $this->options([
            'username' => 'alice',
            'password' => $password,
            'flush_timeout' => 0.5,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.5, 'max_retries' => 0],
        ], $broker);
        $topic = $this->topic('password');
        $run = Probes::run('', [
            'wrong binary password' => sprintf('(function () { $c = new Mqtt\Client(%s, "binary"); try { $c->publishSync(%s, "x", 1, null, 10.0); return "published"; } catch (Mqtt\MqttException $e) { return (new ReflectionClass($e))->getShortName() . ": " . $e->getMessage(); } })()', var_export($options("\xff\xfe\x00x"), true), var_export($topic, true)),
            'right UTF-8 password' => sprintf('(function () { $c = new Mqtt\Client(%s, "utf8"); $c->publishSync(%s, "x", 1, null, 10.0); return "published"; })()', var_export($options('pässwörd-ünïcode'), true), var_export($topic, true)),
        ]);

        $wrong = $run->outcome('wrong binary password');
        $this->assertSame(ProbeOutcome::RETURNED, $wrong->kind, $wrong->describe());
        $this->assertMatchesRegularExpression("/^'ConnectionException: .*(bad user name or password|not authori[sz]ed)/i", (string) $wrong->value, $wrong->describe());
        // A refused CONNACK (4: bad user name or password, 5: not authorised).
        $this->assertNotSame([], $broker->refusedForCredentials(), "the broker refused it:\n" . $broker->log());
        $right = $run->outcome('right UTF-8 password');
        $this->assertSame("'published'", $right->value, $right->describe());
        $run->assertChildrenEndedCleanly();
    }

    /** A will is one MQTT binary field: at most 65,535 bytes. */
    public function testWillPayloadOver65535BytesIsAConfigExceptionNamingIt(): void
    {
        $run = Probes::run($this->connectedSetup(), [
            '65,536 bytes' => 'new Mqtt\Client(["will" => ["topic" => "w", "payload" => str_repeat("w", 65536)]] + $options, "big-will")',
            '1 MB' => 'new Mqtt\Client(["will" => ["topic" => "w", "payload" => str_repeat("w", 1 << 20)]] + $options, "big-will")',
            '65,535 bytes (the largest)' => '(function () use ($options, $topic) { $c = new Mqtt\Client(["will" => ["topic" => "w", "payload" => str_repeat("w", 65535)]] + $options, "largest-will"); $c->publishSync($topic, "x", 1, null, 10.0); return $c->status()["state"]; })()',
        ]);

        $this->assertEachOutcome($run, static fn (ProbeOutcome $outcome) => $outcome->label === '65,535 bytes (the largest)'
            ? ($outcome->value === "'connected'" ? null : 'expected the largest will to be accepted')
            : self::problemUnlessThrew($outcome, ConfigException::class, ['will.payload']));
    }

    /**
     * The clients list names what it got instead of a Client the way PHP names
     * types (get_debug_type()), not as a Rust debug dump.
     */
    public function testSubscriberNamesTheTypeOfWhatIsNotAClient(): void
    {
        $cases = [
            'stdClass' => '[new stdClass()]',
            'int' => '[1]',
            'float' => '[1.5]',
            'string' => '["a client"]',
            'null' => '[null]',
            'bool' => '[true]',
            'array' => '[[]]',
            'Closure' => '[fn () => 1]',
            'ArrayObject' => '[$client, new ArrayObject()]',
            'Mqtt\Subscriber' => '[$client, $subscriber]',
        ];
        $probes = [];
        foreach ($cases as $type => $clients) {
            $probes[$type] = "new Mqtt\\Subscriber($clients)";
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static function (ProbeOutcome $outcome): ?string {
            $problem = self::problemUnlessThrew($outcome, \ValueError::class, ['argument #1 ($clients)', $outcome->label]);
            if ($problem === null && preg_match('/Object\(|Str \{|ptr: 0x|Long\(|Double\(/', (string) $outcome->message)) {
                $problem = 'the message is a Rust debug dump';
            }
            return $problem;
        });
    }

    /**
     * The rows below are bad values for each parameter that can hold one; the
     * label their message must carry comes from reflection, so a renamed or
     * moved parameter cannot leave its messages behind.
     *
     * @return list<array{class-string, string, string, string}> class, method, parameter, call with a bad value
     */
    private static function badValues(): array
    {
        return [
            ['Mqtt\Client', '__construct', 'name', 'new Mqtt\Client($options, "")'],
            ['Mqtt\Client', 'publish', 'topic', '$client->publish("", "x")'],
            ['Mqtt\Client', 'publish', 'topic', '$client->publish("a/+/b", "x")'],
            ['Mqtt\Client', 'publish', 'topic', '$client->publish("a/\xff", "x")'],
            ['Mqtt\Client', 'publish', 'payload', '$small->publish($topic, str_repeat("x", 2000))'],
            ['Mqtt\Client', 'publish', 'qos', '$client->publish($topic, "x", 3)'],
            ['Mqtt\Client', 'publish', 'qos', '$client->publish($topic, "x", PHP_INT_MIN)'],
            ['Mqtt\Client', 'publish', 'properties', '$client5->publish($topic, "x", 1, null, ["bogus" => 1])'],
            ['Mqtt\Client', 'publish', 'properties', '$client311->publish($topic, "x", 1, null, ["content_type" => "text/plain"])'],
            ['Mqtt\Client', 'publishSync', 'topic', '$client->publishSync("", "x", 1, null, 5.0)'],
            ['Mqtt\Client', 'publishSync', 'topic', '$client->publishSync("a/\xff", "x", 1, null, 5.0)'],
            ['Mqtt\Client', 'publishSync', 'payload', '$small->publishSync($topic, str_repeat("x", 2000), 1, null, 5.0)'],
            ['Mqtt\Client', 'publishSync', 'qos', '$client->publishSync($topic, "x", 7, null, 5.0)'],
            ['Mqtt\Client', 'publishSync', 'timeout', '$client->publishSync($topic, "x", 1, null, -1.0)'],
            ['Mqtt\Client', 'publishSync', 'timeout', '$client->publishSync($topic, "x", 1, null, NAN)'],
            ['Mqtt\Client', 'publishSync', 'properties', '$client5->publishSync($topic, "x", 1, null, 5.0, ["bogus" => 1])'],
            ['Mqtt\Client', 'publishSync', 'properties', '$client311->publishSync($topic, "x", 1, null, 5.0, ["content_type" => "text/plain"])'],
            ['Mqtt\Client', 'flush', 'timeout', '$client->flush(-1.0)'],
            ['Mqtt\Client', 'flush', 'timeout', '$client->flush(INF)'],
            ['Mqtt\Client', 'waitConnected', 'timeout', '$client->waitConnected(-1.0)'],
            ['Mqtt\Client', 'waitConnected', 'timeout', '$client->waitConnected(NAN)'],
            ['Mqtt\Subscriber', 'route', 'pattern', '$subscriber->route("", fn () => null)'],
            ['Mqtt\Subscriber', 'route', 'pattern', '$subscriber->route("a/#/b", fn () => null)'],
            ['Mqtt\Subscriber', 'route', 'qos', '$subscriber->route($topic . "/{name}", fn () => null, 3)'],
            ['Mqtt\Subscriber', '__construct', 'clients', 'new Mqtt\Subscriber([])'],
            ['Mqtt\Subscriber', '__construct', 'clients', 'new Mqtt\Subscriber([1])'],
            ['Mqtt\Subscriber', 'subscribe', 'filter', '$subscriber->subscribe("", 1, 5.0)'],
            ['Mqtt\Subscriber', 'subscribe', 'filter', '$subscriber->subscribe("a/#/b", 1, 5.0)'],
            ['Mqtt\Subscriber', 'subscribe', 'filter', '$subscriber->subscribe("a/\xff", 1, 5.0)'],
            ['Mqtt\Subscriber', 'subscribe', 'qos', '$subscriber->subscribe($topic, 3, 5.0)'],
            ['Mqtt\Subscriber', 'subscribe', 'timeout', '$subscriber->subscribe($topic, 1, -1.0)'],
            ['Mqtt\Subscriber', 'subscribe', 'timeout', '$subscriber->subscribe($topic, 1, NAN)'],
            ['Mqtt\Subscriber', 'unsubscribe', 'filter', '$subscriber->unsubscribe("")'],
            ['Mqtt\Subscriber', 'unsubscribe', 'filter', '$subscriber->unsubscribe("a/\xff")'],
            ['Mqtt\Subscriber', 'next', 'timeout', '$subscriber->next(-1.0)'],
            ['Mqtt\Subscriber', 'next', 'timeout', '$subscriber->next(NAN)'],
            ['Mqtt\Subscriber', 'loop', 'timeout', '$subscriber->loop(fn () => null, -1.0)'],
            ['Mqtt\Subscriber', 'loop', 'timeout', '$subscriber->loop(fn () => null, INF)'],
            ['Mqtt\Subscriber', 'loop', 'limit', '$subscriber->loop(fn () => null, 0.0, -1)'],
        ];
    }

    /** A bad value is a \ValueError labelled with the parameter's position and name in reflection. */
    public function testBadValueLabelsMatchTheParametersPositionAndNameInReflection(): void
    {
        $probes = [];
        $labels = [];
        foreach (self::badValues() as [$class, $method, $parameter, $call]) {
            $labels[$call] = self::label($class, $method, $parameter);
            $probes[$call] = $call;
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static fn (ProbeOutcome $outcome) => self::problemUnlessThrew($outcome, \ValueError::class, [$labels[$outcome->label]]));
    }

    /**
     * Every parameter of every public method, given a value of a type it does
     * not take: a \TypeError naming the parameter. The binding's argument
     * parser words it "Invalid value given for argument `topic`."; the
     * `argument #N ($name)` labels are the extension's own checks of values.
     * Driven by reflection, so a new parameter is covered without editing this test.
     */
    public function testWrongTypesAreTypeErrorsNamingTheParameter(): void
    {
        // A valid value for each parameter, so that only the one under test is wrong
        // (one of its type where this table has none: type checks come first anyway).
        $valid = [
            'Mqtt\Client::__construct' => ['options' => '$options', 'name' => '"types"'],
            'Mqtt\Client::publish' => ['topic' => '$topic', 'payload' => '"x"', 'qos' => '1', 'retain' => 'false', 'properties' => 'null'],
            'Mqtt\Client::publishSync' => ['topic' => '$topic', 'payload' => '"x"', 'qos' => '1', 'retain' => 'false', 'timeout' => '5.0', 'properties' => 'null'],
            'Mqtt\Client::flush' => ['timeout' => '1.0'],
            'Mqtt\Subscriber::__construct' => ['clients' => '[$client]', 'options' => 'null'],
            'Mqtt\Subscriber::subscribe' => ['filter' => '$topic', 'qos' => '1', 'timeout' => '5.0'],
            'Mqtt\Subscriber::unsubscribe' => ['filter' => '$topic . "/never"'],
            'Mqtt\Subscriber::next' => ['timeout' => '0.0'],
            'Mqtt\Subscriber::loop' => ['handler' => 'fn () => null', 'timeout' => '0.0', 'limit' => '1'],
            'Mqtt\Client::request' => ['topic' => '$topic', 'payload' => '"x"', 'timeout' => '0.1', 'properties' => 'null'],
            'Mqtt\Message::reply' => ['payload' => '"x"', 'properties' => 'null'],
            'Mosquitto\Client::connect' => ['host' => '$options["host"]', 'port' => '$options["port"]', 'keepalive' => '60', 'interface' => 'null'],
            'Mosquitto\Client::loop' => ['timeout' => '0', 'maxPackets' => '1'],
            'Mosquitto\Client::loopForever' => ['timeout' => '0', 'maxPackets' => '1'],
        ];
        $receivers = [
            'Mqtt\Client' => '$client', 'Mqtt\Subscriber' => '$subscriber', 'Mqtt\Message' => '$message',
            'Mosquitto\Client' => '$mosquitto', 'Mosquitto\Message' => '$mosquittoMessage',
        ];
        $probes = [];
        $labels = [];
        foreach (self::extensionMethods() as $method) {
            $class = $method->getDeclaringClass()->getName();
            $key = $class . '::' . $method->getName();
            foreach ($method->getParameters() as $tested) {
                $type = $tested->getType();
                $this->assertInstanceOf(\ReflectionNamedType::class, $type, "$key() \${$tested->getName()} has a single declared type");
                $arguments = [];
                foreach ($method->getParameters() as $parameter) {
                    if ($parameter->getPosition() === $tested->getPosition()) {
                        $arguments[] = match ($type->getName()) {
                            'array' => '"not an array"',
                            'callable' => '"no_such_function_anywhere"',
                            default => '[]',
                        };
                    } else {
                        $arguments[] = $valid[$key][$parameter->getName()] ?? self::plausibleValue($parameter);
                    }
                }
                $list = implode(', ', $arguments);
                $call = match (true) {
                    $method->isConstructor() => "new $class($list)",
                    $method->isStatic() => "$class::{$method->getName()}($list)",
                    default => "{$receivers[$class]}->{$method->getName()}($list)",
                };
                $probes[$call] = $call;
                $labels[$call] = sprintf('`%s`', $tested->getName());
            }
        }
        $this->assertGreaterThanOrEqual(20, count($probes), 'reflection found the parameters');

        // A received message, for Mqtt\Message's methods.
        $setup = $this->connectedSetup() . <<<'PHP'

            $client->publishSync($topic, 'for the message', 1, null, 10.0);
            $message = $subscriber->next(10.0) ?? throw new RuntimeException('probe setup: no message');
            $mosquitto = new Mosquitto\Client();
            $mosquittoMessage = new Mosquitto\Message();
            PHP;
        $run = Probes::run($setup, $probes);

        $this->assertEachOutcome($run, static function (ProbeOutcome $outcome) use ($labels): ?string {
            if ($outcome->threw(\ArgumentCountError::class)) {
                return 'expected a \TypeError for the type, not an \ArgumentCountError';
            }
            return self::problemUnlessThrew($outcome, \TypeError::class, [$labels[$outcome->label]]);
        });
    }

    /**
     * Copying, serializing, dumping, or making an object without its constructor:
     * whatever PHP allows must work, whatever it does not is an exception, and
     * never a crash or a panic.
     */
    public function testObjectsSurviveCloningSerializingAndDumping(): void
    {
        $probes = [];
        foreach (['client' => '$client', 'subscriber' => '$subscriber', 'message' => '$message'] as $name => $object) {
            $probes["clone \$$name, then use the original"] = "(function () use (\$client, \$subscriber, \$message) { \$copy = clone $object; unset(\$copy); return probe_use_all(\$client, \$subscriber, \$message); })()";
            $probes["serialize(\$$name)"] = "serialize($object)";
            $probes["var_export(\$$name)"] = "var_export($object, true)";
            $probes["print_r(\$$name)"] = "print_r($object, true)";
            $probes["json_encode(\$$name)"] = "json_encode($object)";
            $probes["(array) \$$name"] = "(array) $object";
            $probes["get_object_vars(\$$name)"] = "get_object_vars($object)";
        }
        foreach (['Mqtt\Client', 'Mqtt\Subscriber', 'Mqtt\Message'] as $class) {
            $serialized = var_export(sprintf('O:%d:"%s":0:{}', strlen($class), $class), true);
            $probes["unserialize() a $class, then use it"] = "(function () { \$object = unserialize($serialized); return probe_use(\$object); })()";
            $probes["newInstanceWithoutConstructor() of $class, then use it"] = "(function () { \$object = (new ReflectionClass('$class'))->newInstanceWithoutConstructor(); return probe_use(\$object); })()";
            $probes["new $class() without arguments"] = "new $class()";
        }
        $setup = $this->connectedSetup() . <<<'PHP'

            $client->publishSync($topic, 'for the message', 1, null, 10.0);
            $message = $subscriber->next(10.0) ?? throw new RuntimeException('probe setup: no message');

            /** Calls every method that has no required argument (and reads every property of a message). */
            function probe_use(object $object): string
            {
                $results = [];
                if ($object instanceof Mqtt\Message) {
                    $results[] = json_encode(get_object_vars($object) + [$object->topic, $object->payload, $object->properties], JSON_INVALID_UTF8_SUBSTITUTE);
                } elseif ($object instanceof Mqtt\Client) {
                    $results[] = json_encode($object->status());
                    $results[] = var_export($object->flush(0.1), true);
                    $object->close();
                } elseif ($object instanceof Mqtt\Subscriber) {
                    $results[] = var_export($object->next(0.0), true);
                    $object->stop();
                }
                return 'used: ' . implode(', ', $results);
            }

            function probe_use_all(Mqtt\Client $client, Mqtt\Subscriber $subscriber, Mqtt\Message $message): string
            {
                $client->publishSync('test/probe/use-all', 'x', 1, null, 10.0);
                return 'used: ' . json_encode([$client->status()['state'], $subscriber->next(0.0) !== null, $message->payload]);
            }
            PHP;

        $run = Probes::run($setup, $probes);

        $this->assertEachOutcome($run, static function (ProbeOutcome $outcome): ?string {
            if ($outcome->kind === ProbeOutcome::RETURNED) {
                return null;
            }
            if ($outcome->kind !== ProbeOutcome::THREW) {
                return 'expected it to work or throw';
            }
            return preg_match('/Rust panic|panicked/', (string) $outcome->message) ? 'a Rust panic' : null;
        });
    }

    /** Huge durations in options: accepted (and then they saturate) or a ConfigException naming the option. */
    public function testHugeDurationOptionsAreAcceptedOrNamedNeverAPanic(): void
    {
        $probes = [];
        foreach (['flush_timeout', 'connect_timeout', 'keep_alive', 'reconnect.initial_delay', 'reconnect.max_delay', 'session_expiry_interval'] as $option) {
            foreach (['1e19', '(float) PHP_INT_MAX', '1e300'] as $value) {
                $override = str_starts_with($option, 'reconnect.')
                    ? sprintf('["reconnect" => ["%s" => %s, "max_delay" => %s]]', substr($option, 10), $value, $value)
                    : sprintf('["%s" => %s]', $option, $value);
                if ($option === 'session_expiry_interval') {
                    $override = sprintf('["session_expiry_interval" => %s, "protocol" => "5"]', $value);
                }
                $probes["$option => $value"] = "(function () use (\$options, \$topic) { \$c = new Mqtt\\Client($override + \$options, 'huge-option'); \$c->publishSync(\$topic, 'x', 1, null, 10.0); return \$c->flush(); })()";
            }
        }

        $run = Probes::run($this->connectedSetup(), $probes);

        $this->assertEachOutcome($run, static function (ProbeOutcome $outcome): ?string {
            if ($outcome->kind === ProbeOutcome::RETURNED) {
                return $outcome->value === 'true' ? null : 'expected flush() to return true';
            }
            $option = explode(' ', $outcome->label)[0];
            return self::problemUnlessThrew($outcome, ConfigException::class, [$option]);
        });
    }

    /**
     * A child's setup: $options (a client of the shared broker), $topic, an idle
     * connected $client, $subscriber subscribed to $topic through it (QoS 1),
     * $client5 (MQTT 5) and $client311 (MQTT 3.1.1) connected, and $small
     * (max_packet_size 1024).
     */
    private function connectedSetup(): string
    {
        return sprintf(
            <<<'PHP'
                $options = %s;
                $topic = %s;
                $client = new Mqtt\Client($options, 'probe');
                $client5 = new Mqtt\Client(%s, 'probe-5');
                $client311 = new Mqtt\Client(%s, 'probe-311');
                $small = new Mqtt\Client(%s, 'probe-small');
                probe_await_connected($client);
                probe_await_connected($client5);
                probe_await_connected($client311);
                $subscriber = new Mqtt\Subscriber([$client]);
                $subscriber->subscribe($topic, 1, 10.0);
                PHP,
            var_export($this->options(['flush_timeout' => 5]), true),
            var_export($this->topic('probe'), true),
            var_export($this->options(['protocol' => '5', 'flush_timeout' => 5]), true),
            var_export($this->options(['protocol' => '3.1.1', 'flush_timeout' => 5]), true),
            var_export($this->options(['max_packet_size' => 1024, 'flush_timeout' => 5]), true)
        );
    }

    /** PHP code for a value of the parameter's type. */
    private static function plausibleValue(\ReflectionParameter $parameter): string
    {
        $type = $parameter->getType();
        if ($type === null || $type->allowsNull()) {
            return 'null';
        }
        return match ($type instanceof \ReflectionNamedType ? $type->getName() : '') {
            'string' => '$topic',
            'int' => '1',
            'float' => '1.0',
            'bool' => 'false',
            'array' => '[]',
            'callable' => 'fn () => null',
            default => 'null',
        };
    }

    /** `argument #N ($name)`, N and name as reflection has them. */
    private static function label(string $class, string $method, string $parameter): string
    {
        foreach ((new \ReflectionMethod($class, $method))->getParameters() as $reflected) {
            if ($reflected->getName() === $parameter) {
                return sprintf('argument #%d ($%s)', $reflected->getPosition() + 1, $parameter);
            }
        }
        self::fail("$class::$method() has no parameter \$$parameter: this test's table is out of date");
    }

    /** @return list<\ReflectionMethod> the public methods the extension's classes declare */
    private static function extensionMethods(): array
    {
        $methods = [];
        foreach ((new \ReflectionExtension('mqtt_broadcast'))->getClasses() as $class) {
            foreach ($class->getMethods(\ReflectionMethod::IS_PUBLIC) as $method) {
                if ($method->getDeclaringClass()->getName() === $class->getName() && $method->getDeclaringClass()->getExtensionName() === 'mqtt_broadcast') {
                    $methods[] = $method;
                }
            }
        }
        return $methods;
    }

    /**
     * @param class-string $exception
     * @param list<string> $mentions
     */
    private function assertThrew(ProbeOutcome $outcome, string $exception, array $mentions): void
    {
        $problem = self::problemUnlessThrew($outcome, $exception, $mentions);
        $this->assertNull($problem, $problem . "\n" . $outcome->describe());
    }

    /**
     * Null when the probe threw $exception (or a subclass) with a message naming
     * each of $mentions (case-insensitively: PHP writes "Argument #1"), else what is wrong.
     *
     * @param class-string $exception
     * @param list<string> $mentions
     */
    private static function problemUnlessThrew(ProbeOutcome $outcome, string $exception, array $mentions): ?string
    {
        if ($outcome->kind !== ProbeOutcome::THREW) {
            return "expected $exception";
        }
        if (preg_match('/Rust panic|panicked/', (string) $outcome->message)) {
            return "expected $exception, got a Rust panic";
        }
        if (!$outcome->threw($exception)) {
            return "expected $exception";
        }
        $missing = array_values(array_filter($mentions, static fn (string $mention) => stripos((string) $outcome->message, $mention) === false));
        return $missing === [] ? null : 'expected the message to name ' . implode(' and ', array_map(static fn ($m) => "\"$m\"", $missing));
    }

    /**
     * Fails listing every probe $check finds a problem with (null: fine), then
     * fails if a child did not end cleanly.
     *
     * @param callable(ProbeOutcome): ?string $check
     */
    private function assertEachOutcome(Probes $run, callable $check): void
    {
        $failures = [];
        foreach ($run->outcomes() as $outcome) {
            $problem = $check($outcome);
            if ($problem !== null) {
                $failures[] = "$problem:\n" . $outcome->describe();
            }
        }
        if ($failures !== []) {
            $this->fail(sprintf("%d of %d calls misbehaved:\n\n%s", count($failures), count($run->outcomes()), implode("\n\n", $failures)));
        }
        $run->assertChildrenEndedCleanly();
        $this->addToAssertionCount(count($run->outcomes()));
    }
}
