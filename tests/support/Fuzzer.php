<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * The fuzzer that runs inside a child PHP process (FuzzTest starts it): calls
 * every public method and constructor of the extension's classes, found by
 * reflection, with arguments drawn from mt_rand() seeded with $seed — values at
 * the limits, invalid UTF-8, deep and recursive arrays, objects, closures — and
 * reports every call whose outcome is not allowed:
 *
 * - allowed: a normal return, Mqtt\MqttException and subclasses, \ValueError,
 *   \TypeError (\ArgumentCountError included), FuzzHandlerError, which the
 *   fuzzer's own loop() handlers throw and loop() must pass on unchanged, and the
 *   \Exception of Message's and Event's constructors, which PHP code may not call;
 * - a defect: any other exception (a Rust panic arrives as \Error "Rust panic: ..."),
 *   any message with "Rust panic" or "panicked", a call that took more than
 *   5 s longer than the timeout it asked for. A crash, a fatal error or a call that
 *   never returns end the process: the parent (FuzzTest) reports them, from the
 *   file where each call is described before it is made.
 *
 * Timeout arguments stay small (at most 0.3 s) or invalid, so that a call that
 * blocks for long is a defect and not a long wait someone asked for; next() and
 * loop() only get a null timeout ("wait forever") once stop() made them return at once.
 *
 * Output, on stdout: one line "DEFECT <json>" per defect (the first 200), then
 * "DONE <json>" with the number of calls and what they did.
 */
final class Fuzzer
{
    private const SLACK = 5.0;
    private const MAX_TIMEOUT = 0.3;
    private const MAX_DEFECT_LINES = 200;
    private const POOL = 6;
    private const OPTION_KEYS = [
        'host', 'port', 'client_id', 'username', 'password', 'keep_alive', 'connect_timeout', 'clean_session',
        'prefix', 'qos', 'retain', 'max_queue', 'max_inflight', 'max_packet_size', 'flush_timeout', 'reconnect',
        'tls', 'will', 'protocol', 'session_expiry_interval', 'receive_maximum', 'topic_aliases',
        'servers', 'url', 'server_order',
    ];

    /** @var list<array{\ReflectionClass, \ReflectionMethod, float}> class, method, weight */
    private array $targets = [];
    private float $totalWeight = 0.0;
    /** @var list<\Mqtt\Client> */
    private array $clients = [];
    /** @var list<\Mqtt\Subscriber> */
    private array $subscribers = [];
    /** @var list<\Mqtt\Message> */
    private array $messages = [];
    /** @var list<\Mosquitto\Client> */
    private array $mosquittos = [];
    /** @var list<\Mosquitto\Message> */
    private array $mosquittoMessages = [];
    /** @var \WeakMap<\Mqtt\Subscriber, true> subscribers stop() was called on */
    private \WeakMap $stopped;
    /** @var \WeakMap<\Mqtt\Client, true> clients close() was called on */
    private \WeakMap $closed;
    /** @var \WeakMap<object, string> how each pooled Client and Subscriber was made */
    private \WeakMap $origins;
    /** @var array<string, float> method => seconds its calls took */
    private array $seconds = [];
    /** @var resource */
    private $current;
    private int $defects = 0;
    /** @var array<string, int> outcome => count */
    private array $outcomes = [];
    /** @var array<string, true> */
    private array $warnings = [];
    private int $generation = 0;

    private function __construct(
        private readonly int $port,
        private readonly int $deadPort,
        private readonly int $seed,
        private readonly string $currentFile,
        private readonly string $topicBase
    ) {
        $handle = fopen($currentFile, 'c+');
        if ($handle === false) {
            throw new \RuntimeException("cannot open $currentFile");
        }
        $this->current = $handle;
        $this->stopped = new \WeakMap();
        $this->closed = new \WeakMap();
        $this->origins = new \WeakMap();
        foreach ((new \ReflectionExtension('mqtt_broadcast'))->getClasses() as $class) {
            foreach ($class->getMethods(\ReflectionMethod::IS_PUBLIC) as $method) {
                if ($method->getDeclaringClass()->getName() !== $class->getName() || $method->getDeclaringClass()->getExtensionName() !== 'mqtt_broadcast') {
                    continue;
                }
                // Returns only when a callback calls exitLoop() or disconnect();
                // loop() runs the same code with a timeout.
                if ($class->getName() === 'Mosquitto\Client' && $method->getName() === 'loopForever') {
                    continue;
                }
                // close() and stop() are final for their object: called as often as
                // the others they would leave little alive to call the others on.
                $weight = in_array($method->getName(), ['close', 'stop'], true) ? 0.25 : 1.0;
                if ($method->isConstructor() && $method->getNumberOfParameters() === 0) {
                    // Message and Event: nothing to pass, and PHP code may not create them.
                    $weight = 0.25;
                }
                $this->targets[] = [$class, $method, $weight];
                $this->totalWeight += $weight;
            }
        }
    }

    /** Runs $calls calls; the process exit code. */
    public static function main(int $port, int $deadPort, int $seed, int $calls, string $currentFile): int
    {
        mt_srand($seed);
        $fuzzer = new self($port, $deadPort, $seed, $currentFile, "fuzz/$seed");
        $fuzzer->replenish();
        for ($call = 0; $call < $calls; $call++) {
            $fuzzer->callOne($call);
            if ($call % 100 === 99) {
                $fuzzer->replenish();
            }
        }
        $fuzzer->describeCurrent('(process exit, after the last call)');
        ksort($fuzzer->outcomes);
        echo 'DONE ', json_encode([
            'seed' => $seed,
            'calls' => $calls,
            'defects' => $fuzzer->defects,
            'outcomes' => $fuzzer->outcomes,
            'seconds' => array_map(fn ($s) => round($s, 2), $fuzzer->seconds),
            'warnings' => array_keys($fuzzer->warnings),
        ], JSON_INVALID_UTF8_SUBSTITUTE), "\n";
        return 0;
    }

    private function callOne(int $call): void
    {
        [$class, $method] = $this->pickTarget();
        $name = self::className($class) . '::' . $method->getName();
        $receiver = null;
        if (!$method->isStatic() && !$method->isConstructor()) {
            $receiver = $this->receiver($class->getName());
            if ($receiver === null) {
                return;
            }
        }
        [$arguments, $asked] = $this->arguments($method, $receiver);
        $description = $name . '(' . implode(', ', array_map(fn ($a) => self::describe($a), $arguments)) . ')'
            . ($receiver !== null ? ' on ' . self::describe($receiver) . (isset($this->origins[$receiver]) ? ' made by ' . $this->origins[$receiver] : '') : '');
        $this->describeCurrent(json_encode(['seed' => $this->seed, 'call' => $call, 'method' => $name, 'args' => $description], JSON_INVALID_UTF8_SUBSTITUTE));

        set_error_handler(function (int $level, string $message) use ($name): bool {
            $this->warnings["$name: " . preg_replace('/\d+/', 'N', $message)] = true;
            return true;
        });
        $started = hrtime(true);
        try {
            $result = match (true) {
                $method->isConstructor() => $class->newInstanceArgs($arguments),
                $method->isStatic() => $method->invokeArgs(null, $arguments),
                default => $method->invokeArgs($receiver, $arguments),
            };
            $this->count("$name: returned");
            if ($method->isConstructor() && is_object($result)) {
                $this->origins[$result] = $description;
            }
            $this->keep($result);
            if ($method->getName() === 'close' && $receiver !== null) {
                $this->closed[$receiver] = true;
            } elseif ($method->getName() === 'stop' && $receiver !== null) {
                $this->stopped[$receiver] = true;
            }
        } catch (\Throwable $e) {
            $this->count("$name: " . get_class($e));
            $problem = self::problemWith($e);
            if ($problem !== null) {
                $this->defect($call, $name, $description, $problem, $e);
            }
        } finally {
            restore_error_handler();
        }
        $elapsed = (hrtime(true) - $started) / 1e9;
        $this->seconds[$name] = ($this->seconds[$name] ?? 0.0) + $elapsed;
        if ($elapsed > $asked + self::SLACK) {
            $this->defect($call, $name, $description, sprintf('blocked %.1f s although it asked for at most %.1f s', $elapsed, $asked), null);
        }
        unset($result, $arguments);
    }

    /** Null when the exception is an allowed outcome, else what is wrong with it. */
    private static function problemWith(\Throwable $e): ?string
    {
        if (preg_match('/Rust panic|panicked/', $e->getMessage())) {
            return 'a Rust panic';
        }
        if ($e instanceof FuzzHandlerError || $e instanceof \Mqtt\MqttException || $e instanceof \ValueError || $e instanceof \TypeError) {
            return null;
        }
        // The Mosquitto-PHP compatible classes throw theirs, as that extension did.
        if ($e instanceof \Mosquitto\Exception) {
            return null;
        }
        // Mqtt\Message and Mqtt\Event come from the extension only: their
        // constructors throw, as the stubs say.
        if (get_class($e) === \Exception::class && $e->getMessage() === 'You cannot instantiate this class from PHP.') {
            return null;
        }
        return 'an exception of a class no call should throw';
    }

    private function defect(int $call, string $method, string $description, string $problem, ?\Throwable $e): void
    {
        $this->defects++;
        if ($this->defects > self::MAX_DEFECT_LINES) {
            return;
        }
        echo 'DEFECT ', json_encode([
            'seed' => $this->seed,
            'call' => $call,
            'method' => $method,
            'problem' => $problem,
            'class' => $e !== null ? get_class($e) : null,
            'message' => $e !== null ? mb_strimwidth($e->getMessage(), 0, 500, '...') : null,
            'args' => $description,
        ], JSON_INVALID_UTF8_SUBSTITUTE), "\n";
    }

    private function count(string $outcome): void
    {
        $this->outcomes[$outcome] = ($this->outcomes[$outcome] ?? 0) + 1;
    }

    private function describeCurrent(string $text): void
    {
        if (getenv('MQTT_FUZZ_TRACE')) {
            // By hand only: every call, in order, to follow what led to a defect.
            file_put_contents((string) getenv('MQTT_FUZZ_TRACE'), $text . "\n", FILE_APPEND);
        }
        ftruncate($this->current, 0);
        rewind($this->current);
        fwrite($this->current, $text);
        fflush($this->current);
    }

    /** @return array{\ReflectionClass, \ReflectionMethod} */
    private function pickTarget(): array
    {
        $point = mt_rand() / mt_getrandmax() * $this->totalWeight;
        foreach ($this->targets as [$class, $method, $weight]) {
            $point -= $weight;
            if ($point <= 0) {
                return [$class, $method];
            }
        }
        return [$this->targets[0][0], $this->targets[0][1]];
    }

    private function receiver(string $class): ?object
    {
        $pool = match ($class) {
            'Mqtt\Client' => $this->clients,
            'Mqtt\Subscriber' => $this->subscribers,
            'Mqtt\Message' => $this->messages,
            'Mosquitto\Client' => $this->mosquittos,
            'Mosquitto\Message' => $this->mosquittoMessages,
            default => [],
        };
        return $pool === [] ? null : $pool[mt_rand(0, count($pool) - 1)];
    }

    /** Adds what a call returned to the pools of objects later calls use. */
    private function keep(mixed $result): void
    {
        $pool = match (true) {
            $result instanceof \Mqtt\Client => 'clients',
            $result instanceof \Mqtt\Subscriber => 'subscribers',
            $result instanceof \Mqtt\Message => 'messages',
            $result instanceof \Mosquitto\Client => 'mosquittos',
            $result instanceof \Mosquitto\Message => 'mosquittoMessages',
            default => null,
        };
        if ($pool === null) {
            return;
        }
        if (count($this->$pool) >= self::POOL) {
            // Replaced, not appended: dropping objects is part of the fuzzing too.
            $this->{$pool}[mt_rand(0, self::POOL - 1)] = $result;
        } else {
            $this->{$pool}[] = $result;
        }
    }

    /**
     * Keeps a live connected client, an MQTT 5 one, one that cannot connect and
     * subscribers that receive what the fuzzer publishes, so that most calls
     * reach real connections and not only closed or stopped objects.
     */
    private function replenish(): void
    {
        $live = array_filter($this->clients, fn ($c) => !isset($this->closed[$c]));
        $listening = array_filter($this->subscribers, fn ($s) => !isset($this->stopped[$s]));
        if (count($live) >= 2 && count($listening) >= 1 && count($this->messages) >= 1) {
            return;
        }
        $this->describeCurrent('(the fuzzer creating its base clients)');
        try {
            $this->createBase();
        } catch (\Throwable $e) {
            // Not a call of the fuzz: counted, and the fuzzing goes on with what there is.
            $this->count('(base clients) ' . get_class($e));
            $problem = self::problemWith($e);
            if ($problem !== null) {
                $this->defect(-1, '(base clients)', 'creating the base clients, subscribing and receiving one message', $problem, $e);
            }
        }
    }

    private function createBase(): void
    {
        $generation = ++$this->generation;
        $base = $this->baseOptions();
        $main = new \Mqtt\Client($base + ['client_id' => "fuzz-{$this->seed}-main-$generation", 'qos' => 1], "base-main");
        $v5 = new \Mqtt\Client($base + ['client_id' => "fuzz-{$this->seed}-v5-$generation", 'protocol' => '5'], "base-v5");
        $dead = new \Mqtt\Client(['port' => $this->deadPort] + $base, "base-dead");
        $deadline = microtime(true) + 10.0;
        while ((!$main->status()['connected'] || !$v5->status()['connected']) && microtime(true) < $deadline) {
            usleep(5_000);
        }
        $subscriber = new \Mqtt\Subscriber([$main, $v5]);
        $subscriber->subscribe($this->topicBase . '/#', 1, 5.0);
        $main->publishSync($this->topicBase . '/base', 'base message', 1, null, 5.0);
        $message = $subscriber->next(5.0);
        foreach ([$main, $v5, $dead] as $client) {
            $this->keep($client);
        }
        $this->keep($subscriber);
        $this->keep($message);
    }

    /** @return array<string, mixed> */
    private function baseOptions(): array
    {
        return [
            'host' => '127.0.0.1',
            'port' => $this->port,
            'flush_timeout' => 0.2,
            'connect_timeout' => 0.5,
            'reconnect' => ['initial_delay' => 0.05, 'max_delay' => 0.3, 'max_retries' => 0],
        ];
    }

    /**
     * Arguments for $method, and the longest time the call may wait by what it asked.
     *
     * @return array{list<mixed>, float}
     */
    private function arguments(\ReflectionMethod $method, ?object $receiver): array
    {
        $parameters = $method->getParameters();
        $count = count($parameters);
        $roll = mt_rand(0, 99);
        if ($roll < 2) {
            $count = mt_rand(0, max(0, $count - 1)); // too few
        } elseif ($roll < 4) {
            $count++; // too many
        } elseif ($roll < 30) {
            $count = mt_rand($method->getNumberOfRequiredParameters(), $count); // optional ones left out
        }
        if ($count === 0 && $method->isConstructor() && $method->getDeclaringClass()->getName() === 'Mqtt\Client' && mt_rand(0, 49) !== 0) {
            // Mostly with options: the defaults wait up to 5 s in close() and when replaced.
            $count = 1;
        }
        // Half the calls get only plausible arguments (which still hold invalid
        // values), so that calls get past type checks to the code behind them.
        $chaosRate = mt_rand(0, 1) === 0 ? 0 : 25;
        $arguments = [];
        // Replacing a connection (a constructor), close() and request() (waiting for the reply subscription
        // and the reply, when its timeout is left out) wait up to the flush_timeout: 5 s by default.
        $asked = $method->isConstructor() || in_array($method->getName(), ['close', 'request'], true) ? 5.0 : 1.0;
        $hasTimeout = false;
        for ($i = 0; $i < $count; $i++) {
            $parameter = $parameters[$i] ?? null;
            $name = $parameter?->getName() ?? 'extra';
            if (self::className($method->getDeclaringClass()) === 'Mosquitto\Client') {
                // Milliseconds; connect() waits for the first attempt, disconnect() flushes.
                $arguments[] = mt_rand(0, 99) >= $chaosRate ? $this->mosquittoValue($name) : $this->chaos();
                $asked = max($asked, match ($method->getName()) {
                    'connect' => 7.0,
                    'disconnect', '__construct' => 5.5,
                    'loop' => 1.1,
                    default => 1.0,
                });
                continue;
            }
            if ($name === 'timeout') {
                $hasTimeout = true;
                [$arguments[], $wait] = $this->timeout($method->getName(), $receiver);
                $asked = max($asked, $wait);
            } else {
                $arguments[] = mt_rand(0, 99) >= $chaosRate ? $this->valueFor($name, $method) : $this->chaos();
            }
        }
        $waitsForever = self::className($method->getDeclaringClass()) !== 'Mosquitto\Client'
            && in_array($method->getName(), ['next', 'loop'], true)
            && !$hasTimeout
            && !($receiver !== null && isset($this->stopped[$receiver]));
        if ($waitsForever) {
            // Left out, the timeout is null: wait forever. Give one instead.
            $position = $method->getName() === 'next' ? 0 : 1;
            while (count($arguments) < $position) {
                $arguments[] = $method->getName() === 'loop' ? $this->handler() : null;
            }
            $arguments[$position] = 0.01;
        }
        return [$arguments, $asked];
    }

    /** @return array{mixed, float} a timeout argument, and the longest it lets the call wait */
    private function timeout(string $method, ?object $receiver): array
    {
        $roll = mt_rand(0, 99);
        if ($roll < 8) {
            return [[NAN, INF, -INF, -1.0, -0.5, -1e300, -PHP_FLOAT_MAX, -1e-9][mt_rand(0, 7)], 0.0];
        }
        if ($roll < 16) {
            // Wrong types, none of them a number in disguise.
            return [[[], [0.1], new \stdClass(), 'soon', '', 'NAN', fn () => 1, "\xff", false][mt_rand(0, 8)], 1.0];
        }
        if ($roll < 50) {
            return [[0.0, -0.0, 0, 5e-324, PHP_FLOAT_EPSILON][mt_rand(0, 4)], 0.0];
        }
        if ($roll < 90) {
            return [mt_rand(1, 20) / 1000, 0.02];
        }
        if ($roll < 96) {
            return [0.05, 0.05];
        }
        if ($roll < 98) {
            return [self::MAX_TIMEOUT, self::MAX_TIMEOUT];
        }
        $stopped = $receiver !== null && isset($this->stopped[$receiver]);
        if (in_array($method, ['next', 'loop'], true) && !$stopped) {
            return [0.01, 0.01];
        }
        // null: the connection's flush_timeout (at most 0.3 s for the fuzzer's options, 5 s by default).
        return [null, 5.0];
    }

    private function valueFor(string $parameter, \ReflectionMethod $method): mixed
    {
        $class = $method->getDeclaringClass()->getShortName();
        return match ($parameter) {
            'topic' => $this->topic(),
            'filter' => $this->filter(),
            'pattern' => mt_rand(0, 1) === 0 ? $this->filter() : $this->pick([
                $this->topicBase . '/{tenant}/{metric}',
                $this->topicBase . '/{rest*}',
                $this->topicBase . '/{a}/{a}',
                $this->topicBase . '/{a',
                $this->topicBase . '/{*}',
                $this->topicBase . '/{rest*}/x',
                '{x}',
                "{\xff}",
                '$share/g/' . $this->topicBase . '/{id}',
            ]),
            'listener' => $this->handler(),
            'payload' => $this->payload(),
            'qos' => $this->pick([0, 1, 2, 0, 1, 2, 1, null, null, 3, -1, PHP_INT_MAX, PHP_INT_MIN, 256]),
            'retain' => $this->pick([true, false, null]),
            'limit' => $this->pick([null, 0, 1, 2, 5, 100, -1, PHP_INT_MAX, PHP_INT_MIN]),
            'properties' => $this->properties(),
            'options' => match (true) {
                $class === 'Client' && $method->getName() === 'close' => $this->closeOptions(),
                $class === 'Client' => $this->clientOptions(),
                in_array($method->getName(), ['subscribe', 'route'], true) => $this->subscriptionOptions(),
                default => $this->subscriberOptions(),
            },
            'name' => $this->pick(['f0', 'f1', 'f2', 'base-main', 'default', '', "\xff", 'n-' . mt_rand(0, 1000), str_repeat('n', 70000)]),
            'clients' => $this->clientList(),
            'handler' => $this->handler(),
            default => $this->chaos(),
        };
    }

    /** Mosquitto\Client's arguments, by parameter name. */
    private function mosquittoValue(string $parameter): mixed
    {
        return match ($parameter) {
            'host' => $this->pick(['127.0.0.1', '127.0.0.1', '', 'no-such-host.invalid', "\xff", "a\0b"]),
            'port' => $this->pick([$this->port, $this->port, $this->deadPort, 0, -1, 65536]),
            'keepalive' => $this->pick([0, 5, 60, -1, 65536]),
            'interface', 'tlsVersion', 'ciphers', 'certFile', 'keyFile', 'password' => $this->pick([null, null, '', 'tlsv1.2', 'tlsv1', '/no/such/file']),
            'id' => $this->pick([null, 'fuzz-mosquitto-' . $this->seed . '-' . mt_rand(0, 3), '', ' x', "a\0b", str_repeat('i', 70000)]),
            'cleanSession', 'value', 'exponentialBackoff', 'retain' => $this->pick([true, false]),
            'callback' => $this->handler(),
            'topic', 'subscription' => $this->topic(),
            'payload', 'psk', 'identity', 'username', 'caPath' => $this->payload(),
            'qos' => $this->pick([0, 1, 2, 3, -1]),
            'timeout' => $this->pick([0, 1, 10, 50, -1]),
            'maxPackets', 'certReqs' => $this->pick([0, 1, 7, -1]),
            'reconnectDelay', 'exponentialDelay', 'messageRetryPeriod', 'maxInFlightMessages' => $this->pick([0, 1, 5, 65535, 65536, -1, PHP_INT_MAX]),
            default => $this->chaos(),
        };
    }

    /** Short names, but the Mosquitto-PHP compatible classes by their full ones. */
    private static function className(\ReflectionClass $class): string
    {
        return str_starts_with($class->getName(), 'Mosquitto\\') ? $class->getName() : $class->getShortName();
    }

    private function topic(): string
    {
        return match (mt_rand(0, 24)) {
            0 => '',
            1 => '#',
            2 => 'a/+/b',
            3 => "a/\0/b",
            4 => "a/\xff",
            5 => "a\xc0\xafb",
            6 => str_repeat('t', 65535),
            7 => str_repeat('t', 65536),
            8 => '$SYS/fuzz',
            9 => '/',
            10 => $this->topicBase . '/' . $this->randomText(mt_rand(0, 30)),
            default => $this->topicBase . '/t' . mt_rand(0, 9),
        };
    }

    private function filter(): string
    {
        return match (mt_rand(0, 20)) {
            0 => '',
            1 => '#',
            2 => '+/+/#',
            3 => 'a/#/b',
            4 => 'a/b#',
            5 => '$share/g/' . $this->topicBase . '/#',
            6 => '$share//a',
            7 => '$share/g',
            8 => "a/\xff/#",
            9 => str_repeat('f', 65536),
            10 => "a/\0",
            11 => $this->topicBase . '/' . $this->randomText(mt_rand(0, 10)),
            default => $this->topicBase . '/' . $this->pick(['#', '+', 't1', 't2/+', '+/x']),
        };
    }

    private function payload(): string
    {
        $roll = mt_rand(0, 999);
        if ($roll < 2) {
            return str_repeat($this->randomBytes(64), mt_rand(16_384, 32_768)); // 1 to 2 MB
        }
        if ($roll < 20) {
            return str_repeat('p', mt_rand(1000, 70_000));
        }
        return $roll < 500 ? $this->randomText(mt_rand(0, 40)) : $this->randomBytes(mt_rand(0, 40));
    }

    private function properties(): mixed
    {
        $roll = mt_rand(0, 99);
        if ($roll < 65) {
            return null;
        }
        if ($roll < 70) {
            return $this->chaos();
        }
        $properties = [];
        $keys = ['user_properties', 'content_type', 'message_expiry_interval', 'response_topic', 'correlation_data', 'payload_format_indicator', 'bogus', "\xff"];
        for ($n = mt_rand(0, 3); $n > 0; $n--) {
            $key = $this->pick($keys);
            $properties[$key] = match ($key) {
                'user_properties' => $this->pick([
                    ['trace' => 'abc'],
                    [['tag', 'a'], ['tag', 'b']],
                    ["\xff" => 'v'],
                    ['k' => "\xff"],
                    ['k' => ['nested']],
                    [['only-name']],
                    'not an array',
                    ['k' => str_repeat('v', 70000)],
                    [1, 2, 3],
                    $this->chaos(),
                ]),
                'message_expiry_interval' => $this->pick([0, 1, 300, -1, 4294967295, 4294967296, PHP_INT_MAX, 1.5, '60']),
                'response_topic' => $this->topic(),
                'correlation_data' => $this->randomBytes(mt_rand(0, 20)),
                'payload_format_indicator' => $this->pick([0, 1, 1, 2, -1, '1', true]),
                'content_type' => $this->pick(['application/json', '', "text/\xff", str_repeat('c', 65536)]),
                default => $this->chaos(),
            };
        }
        return $properties;
    }

    private function clientOptions(): mixed
    {
        // Rare: without the base options a client waits up to the default
        // flush_timeout (5 s) in close() and when it is replaced.
        $roll = mt_rand(0, 99);
        if ($roll < 4) {
            return $this->chaos();
        }
        if ($roll < 5) {
            return null;
        }
        $options = $this->baseOptions();
        for ($n = mt_rand(0, 3); $n > 0; $n--) {
            $key = mt_rand(0, 9) === 0 ? $this->pick(["\xff", 0, 'hots', '', 'Host', str_repeat('k', 300)]) : $this->pick(self::OPTION_KEYS);
            $options[$key] = $this->optionValue((string) $key);
        }
        return $options;
    }

    private function optionValue(string $key): mixed
    {
        $text = [$this->randomText(8), '', "\xff\xfe", str_repeat('x', 70000)];
        return match ($key) {
            'host' => $this->pick(['127.0.0.1', 'localhost', '::1', '', "h\xff", 'no-such-host.invalid', '127.0.0.1:1883', str_repeat('h', 300), [], 1]),
            'port' => $this->pick([$this->port, $this->deadPort, 0, -1, 65535, 65536, PHP_INT_MAX, (string) $this->port, 'abc', 1883.5, NAN, true]),
            'client_id' => $this->pick(array_merge($text, ['fuzz-fixed-id', null])),
            'username', 'password' => $this->pick(array_merge($text, [null, []])),
            'keep_alive' => $this->pick([0, 1, 5, 60, 65535, 65536, -1, 0.5, NAN, INF, 1e19, '30', 'x']),
            'connect_timeout', 'flush_timeout' => $this->pick([0, 0.01, 0.1, self::MAX_TIMEOUT, -1, NAN, INF, -INF, 'soon', [], '0.1']),
            'clean_session', 'retain' => $this->pick([true, false, 'true', 'false', '1', '', 'maybe', 0, 1, 2, null, []]),
            'prefix' => $this->pick(['', 'app/', 'a/+/', '#', "\xff/", str_repeat('p', 65535), []]),
            'qos' => $this->pick([0, 1, 2, 3, -1, '1', 'x', 1.0, 1.5]),
            'max_queue', 'max_inflight' => $this->pick([0, 1, 10, 20, 1024, 65535, 65536, 2 ** 32, PHP_INT_MAX, -1, '100', 1.5]),
            'max_packet_size' => $this->pick([0, 1, 10, 127, 128, 200, 1024, 65535, 65536, 2 ** 32, PHP_INT_MAX, -1, '100', 1.5]),
            'reconnect' => $this->pick([
                ['initial_delay' => 0.01, 'max_delay' => 0.1, 'max_retries' => 1],
                ['initial_delay' => 0, 'max_delay' => 0],
                ['initial_delay' => 0.2, 'max_delay' => 0.1],
                ['max_retries' => PHP_INT_MAX],
                ['max_retries' => -1],
                ['initial_delay' => NAN],
                ['max_delay' => INF],
                ['max_retry' => 1],
                'fast',
                [],
            ]),
            'tls' => $this->pick([
                true,
                false,
                ['verify_peer' => false],
                ['ca_file' => '/nonexistent/ca.pem'],
                ['ca_file' => '/etc/hostname'],
                ['cert_file' => '/etc/hostname'],
                ['alpn' => ['x-amzn-mqtt-ca', "\xff", []]],
                ['server_name' => "\xff"],
                ['allow_self_signed' => 'maybe'],
                'yes',
            ]),
            'will' => $this->pick([
                ['topic' => 'w'],
                ['topic' => 'w', 'payload' => "\xff\x00", 'qos' => 2, 'retain' => true],
                ['topic' => 'w', 'payload' => str_repeat('w', 70000)],
                ['topic' => '#'],
                ['topic' => "w\xff"],
                ['payload' => 'x'],
                ['topic' => 'w', 'qos' => 3],
                ['topic' => 'w', 'delay_interval' => 5, 'properties' => ['content_type' => 'text/plain', 'user_properties' => ['k' => 'v']]],
                ['topic' => 'w', 'delay_interval' => -1],
                ['topic' => 'w', 'delay_interval' => 4294967296],
                ['topic' => 'w', 'properties' => ['response_topic' => 'w/+']],
                ['topic' => 'w', 'properties' => 'x'],
                'w',
            ]),
            'protocol' => $this->pick(['3.1.1', '5', 5, '4', '', 3.1, null, []]),
            'session_expiry_interval' => $this->pick([0, 1, 4294967295, 4294967296, -1, PHP_INT_MAX, 1e19, '60']),
            'receive_maximum' => $this->pick([1, 20, 65535, 0, 65536, -1, '100', 1.5]),
            'topic_aliases' => $this->pick([0, 1, 10, 65535, 65536, -1, '10', 2.5]),
            'servers' => $this->pick([[], ["127.0.0.1:{$this->port}"], ["127.0.0.1:{$this->deadPort}", "mqtt://127.0.0.1:{$this->port}"], ['ws://h'], ['mqtt://u:p@h:0'], 'h', [1], ['[::1]:x']]),
            'url' => $this->pick(["mqtt://127.0.0.1:{$this->port}", 'mqtts://127.0.0.1:1', 'gopher://h', '', 'mqtt://:p@h']),
            'server_order' => $this->pick(['in_order', 'random', 'sorted', 1]),
            default => $this->chaos(),
        };
    }

    private function subscriberOptions(): mixed
    {
        if (mt_rand(0, 9) === 0) {
            return $this->chaos();
        }
        return $this->pick([
            null,
            [],
            ['max_inbox' => 1],
            ['max_inbox' => 10],
            ['max_inbox' => 0],
            ['max_inbox' => -1],
            ['max_inbox' => 1_000_001],
            ['max_inbox' => PHP_INT_MAX],
            ['max_inbox' => '5'],
            ['max_inbx' => 5],
            ["\xff" => 1],
        ]);
    }

    /** MQTT 5 subscription options of subscribe() and route(). */
    private function closeOptions(): mixed
    {
        if (mt_rand(0, 9) === 0) {
            return $this->chaos();
        }
        return $this->pick([
            null,
            [],
            ['reason_code' => 4],
            ['reason_code' => 0x80, 'reason_string' => 'bye'],
            ['reason_code' => 0x8E],
            ['reason_code' => -1],
            ['session_expiry_interval' => 0],
            ['session_expiry_interval' => 60],
            ['session_expiry_interval' => 4294967296],
            ['reason_string' => "\xff"],
            ['reason' => 4],
        ]);
    }

    private function subscriptionOptions(): mixed
    {
        if (mt_rand(0, 9) === 0) {
            return $this->chaos();
        }
        return $this->pick([
            null,
            [],
            ['no_local' => true],
            ['no_local' => false, 'retain_as_published' => true],
            ['retain_handling' => 0],
            ['retain_handling' => 1],
            ['retain_handling' => 2],
            ['retain_handling' => 3],
            ['retain_handling' => -1],
            ['retain_handling' => '2'],
            ['no_local' => 1],
            ['nolocal' => true],
            ["\xff" => true],
        ]);
    }

    private function clientList(): mixed
    {
        $client = fn () => $this->clients === [] ? null : $this->clients[mt_rand(0, count($this->clients) - 1)];
        return match (mt_rand(0, 9)) {
            0 => [],
            1 => [$client(), $client()],
            2 => [$client(), 1],
            3 => ["\xff" => $client()],
            4 => [$client(), new \stdClass()],
            5 => $this->chaos(),
            default => [$client()],
        };
    }

    private function handler(): mixed
    {
        $subscriber = fn () => $this->subscribers === [] ? null : $this->subscribers[mt_rand(0, count($this->subscribers) - 1)];
        $client = fn () => $this->clients === [] ? null : $this->clients[mt_rand(0, count($this->clients) - 1)];
        return match (mt_rand(0, 11)) {
            0 => function ($message): void {
                throw new FuzzHandlerError('thrown by the fuzzer\'s handler');
            },
            1 => function ($message) use ($subscriber): void {
                $subscriber()?->stop();
            },
            2 => function ($message) use ($subscriber): void {
                // Re-entered from inside loop().
                $subscriber()?->next(0.0);
            },
            3 => function ($message) use ($subscriber): void {
                $subscriber()?->loop(fn () => null, 0.0, 1);
            },
            4 => function ($message) use ($client): void {
                $client()?->publish($this->topicBase . '/from-handler', 'x', 1);
            },
            5 => function ($message) use ($client): void {
                $client()?->close();
            },
            6 => 'strlen',
            7 => 'no_such_function_anywhere',
            8 => [$this->clients[0] ?? null, 'status'],
            9 => function (\Mqtt\Message $message): string {
                $this->keep($message);
                return json_encode([$message->topic, $message->payload, $message->broker, $message->qos, $message->retain, $message->duplicate, $message->receivedAt, $message->properties], JSON_INVALID_UTF8_SUBSTITUTE) ?: '';
            },
            10 => $this->chaos(),
            default => fn () => null,
        };
    }

    /** Any value at all. */
    private function chaos(int $depth = 0): mixed
    {
        return match (mt_rand(0, 17)) {
            0 => $this->pick([0, 1, -1, PHP_INT_MAX, PHP_INT_MIN, 65535, 65536, 2 ** 31, 2 ** 32, -(2 ** 31)]),
            1 => mt_rand(PHP_INT_MIN, PHP_INT_MAX),
            2 => $this->pick([0.0, -0.0, 0.5, -0.5, 1e-300, 5e-324, PHP_FLOAT_MAX, -PHP_FLOAT_MAX, INF, -INF, NAN, 9.22e18, 1.8e19, 1e300]),
            3 => $this->pick(['', '0', '1', '-1', '1e19', 'NAN', 'INF', ' 1', '1883', 'true', "\0", 'a/b', '#', '+']),
            4 => $this->randomBytes(mt_rand(0, 30)),
            5 => mt_rand(0, 49) === 0 ? str_repeat('s', mt_rand(100_000, 2_000_000)) : $this->randomText(mt_rand(0, 100)),
            6 => null,
            7 => (bool) mt_rand(0, 1),
            8 => $depth < 3 ? array_map(fn () => $this->chaos($depth + 1), range(1, mt_rand(0, 4))) : [],
            9 => $depth < 3 ? $this->weirdMap($depth) : [],
            10 => $this->deepArray(mt_rand(0, 19) === 0 ? 30_000 : mt_rand(1, 64)),
            11 => $this->recursiveArray(),
            12 => $this->pick([new \stdClass(), new \ArrayObject([1]), new \RuntimeException('x'), new \DateTimeImmutable('@0')]),
            13 => fn () => null,
            14 => $this->pick(array_merge($this->clients, $this->subscribers, $this->messages, [null])),
            15 => $this->clientOptions(),
            16 => $this->pick(['1e19', '9.22e18', '-0', '0x1A', '1_000', "1\0"]),
            default => $this->pick([[], [[]], ['' => ''], [PHP_INT_MAX => 1]]),
        };
    }

    /** @return array<mixed> */
    private function weirdMap(int $depth): array
    {
        $map = [];
        for ($n = mt_rand(0, 4); $n > 0; $n--) {
            $key = $this->pick(["\xff", "\xc3", '', 'host', 'port', 'user_properties', PHP_INT_MAX, PHP_INT_MIN, -1, str_repeat('k', 1000), "k\0k"]);
            $map[$key] = $this->chaos($depth + 1);
        }
        return $map;
    }

    /** @return array<mixed> */
    private function deepArray(int $levels): array
    {
        $array = [$this->pick([1, 'x', 'port', null])];
        for ($i = 1; $i < $levels; $i++) {
            $array = mt_rand(0, 1) === 0 ? [$array] : ['port' => $array];
        }
        return $array;
    }

    /** @return array<mixed> */
    private function recursiveArray(): array
    {
        $array = $this->pick([[1], ['port' => 1883], ['user_properties' => []], []]);
        $array[$this->pick(['self', 0, 'tls', 'user_properties', 'max_inbox'])] = &$array;
        return $array;
    }

    private function randomText(int $length): string
    {
        $alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789/-_.$+#é€';
        $text = '';
        for ($i = 0; $i < $length; $i++) {
            $text .= mb_substr($alphabet, mt_rand(0, mb_strlen($alphabet) - 1), 1);
        }
        return $text;
    }

    private function randomBytes(int $length): string
    {
        $bytes = '';
        for ($i = 0; $i < $length; $i++) {
            $bytes .= chr(mt_rand(0, 255));
        }
        return $bytes;
    }

    /**
     * @template T
     * @param list<T> $values
     * @return T
     */
    private function pick(array $values): mixed
    {
        return $values[mt_rand(0, count($values) - 1)];
    }

    /**
     * A value as PHP code where that is short (strings with \xHH escapes), so a
     * defect line can be turned into a reproducing call; long values are summarized.
     */
    public static function describe(mixed $value, int $depth = 0): string
    {
        if ($value === null || is_bool($value) || is_int($value)) {
            return var_export($value, true);
        }
        if (is_float($value)) {
            return match (true) {
                is_nan($value) => 'NAN',
                $value === INF => 'INF',
                $value === -INF => '-INF',
                default => var_export($value, true),
            };
        }
        if (is_string($value)) {
            $shown = self::phpString(substr($value, 0, 60));
            return strlen($value) <= 60 ? $shown : sprintf('/* %d bytes, md5 %s, starting */ %s', strlen($value), substr(md5($value), 0, 8), $shown);
        }
        if (is_array($value)) {
            if ($depth >= 3) {
                return '[/* ' . count($value) . ' element(s), deeper not shown */]';
            }
            $parts = [];
            foreach (array_slice($value, 0, 6, true) as $key => $element) {
                $parts[] = self::describe($key) . ' => ' . self::describe($element, $depth + 1);
            }
            if (count($value) > 6) {
                $parts[] = '/* ' . (count($value) - 6) . ' more */';
            }
            return '[' . implode(', ', $parts) . ']';
        }
        if ($value instanceof \Closure) {
            $function = new \ReflectionFunction($value);
            return 'Closure(line ' . $function->getStartLine() . ')';
        }
        if (is_object($value)) {
            return get_class($value) . '#' . spl_object_id($value);
        }
        return get_debug_type($value);
    }

    private static function phpString(string $bytes): string
    {
        $out = '"';
        for ($i = 0, $n = strlen($bytes); $i < $n; $i++) {
            $c = $bytes[$i];
            $o = ord($c);
            $out .= match (true) {
                $c === '"' || $c === '\\' || $c === '$' => '\\' . $c,
                $o >= 0x20 && $o < 0x7f => $c,
                default => sprintf('\\x%02x', $o),
            };
        }
        return $out . '"';
    }
}

/** Thrown by the fuzzer's loop() handlers: loop() must pass it on unchanged. */
final class FuzzHandlerError extends \RuntimeException
{
}
