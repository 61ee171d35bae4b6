<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent MQTT 5 subscriber: mosquitto_sub -V mqttv5 in the background,
 * printing every message with its MQTT 5 properties, so tests see what the
 * broker delivers to a client that shares no code with the extension.
 *
 * mosquitto_sub prints each message as one record (-N -F): "ESC [ ESC", then
 * topic, payload as hex, QoS, retain flag, user properties (%P), content type
 * (%C), correlation data (%D, raw bytes), message expiry interval (%E) and
 * response topic (%R), each followed by ESC, then "] ESC" and a newline. The
 * properties come out as mosquitto_sub prints them, with what that implies:
 *
 * - %P is every user property as "name:value", separated by single spaces, in
 *   the order of the packet: compare it with printedUserProperties() of the
 *   pairs expected (names and values with spaces or colons make it ambiguous
 *   to parse, not to compare);
 * - a property that is absent and one that is empty both print nothing: they
 *   are both null here;
 * - %E is what the broker forwards: the seconds left of the expiry interval;
 * - property values must not contain ESC (0x1b), the field separator: a record
 *   that does not split into its fields fails the test.
 *
 * Like Listener, it also subscribes to a probe topic of its own: start()
 * returns once the subscription is active, sync() is a barrier (everything the
 * broker accepted for this subscriber before the call has arrived).
 */
final class Mqtt5Listener
{
    private const PROBE_PREFIX = 'mqtt-broadcast-probe/';
    private const START_TIMEOUT = 10.0;
    /** mosquitto_sub's own escapes: \e is ESC. */
    private const FORMAT = '\e[\e%t\e%x\e%q\e%r\e%P\e%C\e%D\e%E\e%R\e]\e\n';
    private const RECORD_START = "\e[\e";
    private const RECORD_END = "\e]\e\n";
    private const FIELDS = 9;

    private BackgroundProcess $process;
    private string $output;
    private string $errors;
    private string $probeTopic;
    private int $probes = 0;

    /**
     * @var list<array{topic:string,payload:string,qos:int,retain:bool,user_properties:string,content_type:?string,correlation_data:?string,message_expiry_interval:?int,response_topic:?string}>
     */
    private array $messages = [];
    /** @var list<string> probe payloads seen so far */
    private array $probesSeen = [];
    private int $parsedBytes = 0;

    private function __construct(
        private readonly Broker $broker,
        private readonly string $filter,
        string $clientId,
        int $qos
    ) {
        $this->output = $broker->dir() . "/listener5-{$clientId}.out";
        $this->errors = $broker->dir() . "/listener5-{$clientId}.err";
        $this->probeTopic = self::PROBE_PREFIX . $clientId;
        $this->process = new BackgroundProcess([
            'mosquitto_sub',
            '-V', 'mqttv5',
            '-h', $broker->host(),
            '-p', (string) $broker->port(),
            '-i', $clientId,
            '-q', (string) $qos,
            '-k', '5',
            '-t', $filter,
            '-t', $this->probeTopic,
            '-N',
            '-F', self::FORMAT,
        ], $this->output, $this->errors);
    }

    public static function start(Broker $broker, string $filter, int $qos = 1): self
    {
        $listener = new self($broker, $filter, 'listener5-' . bin2hex(random_bytes(5)), $qos);
        $listener->awaitSubscription();
        return $listener;
    }

    /** "name:value" pairs joined by spaces: how mosquitto_sub's %P prints these user properties. */
    public static function printedUserProperties(array $pairs): string
    {
        return implode(' ', array_map(static fn (array $pair): string => $pair[0] . ':' . $pair[1], $pairs));
    }

    /**
     * Every message received so far (probes excluded), in arrival order.
     *
     * @return list<array{topic:string,payload:string,qos:int,retain:bool,user_properties:string,content_type:?string,correlation_data:?string,message_expiry_interval:?int,response_topic:?string}>
     */
    public function messages(): array
    {
        $this->parse();
        return $this->messages;
    }

    /** The message with this payload; fails unless exactly one arrived (a QoS 1 duplicate counts once). */
    public function messageWithPayload(string $payload): array
    {
        $found = array_values(array_unique(
            array_filter($this->messages(), static fn (array $m): bool => $m['payload'] === $payload),
            SORT_REGULAR
        ));
        if (count($found) !== 1) {
            Failure::raise(sprintf('mosquitto_sub -V 5 on "%s": %d different messages with payload %s%s', $this->filter, count($found), var_export($payload, true), $this->describeTail()));
        }
        return $found[0];
    }

    /**
     * Waits until at least $count messages arrived and returns all of them.
     *
     * @return list<array<string,mixed>>
     */
    public function waitFor(int $count, float $timeout = 20.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (count($this->messages()) < $count) {
            if (microtime(true) >= $deadline) {
                Failure::raise(sprintf(
                    'mosquitto_sub -V 5 on "%s" expected at least %d message(s) within %.1fs, %d arrived%s',
                    $this->filter,
                    $count,
                    $timeout,
                    count($this->messages),
                    $this->describeTail()
                ));
            }
            $this->assertAlive();
            usleep(20_000);
        }
        return $this->messages;
    }

    /** Barrier: publishes a probe and waits for it (mosquitto delivers a session's messages in order). */
    public function sync(float $timeout = 20.0): void
    {
        $probe = $this->publishProbe();
        $deadline = microtime(true) + $timeout;
        while (!$this->hasSeenProbe($probe)) {
            if (microtime(true) >= $deadline) {
                Failure::raise("mosquitto_sub -V 5 on \"{$this->filter}\" did not get its probe back within {$timeout}s" . $this->describeTail());
            }
            $this->assertAlive();
            usleep(20_000);
        }
    }

    public function stop(): void
    {
        $this->process->terminate();
        $this->parse();
    }

    private function awaitSubscription(): void
    {
        // A probe published before the SUBACK is not delivered: publish again until one comes back.
        $deadline = microtime(true) + self::START_TIMEOUT;
        while (true) {
            $probe = $this->publishProbe();
            $retry = microtime(true) + 0.5;
            while (microtime(true) < $retry) {
                if ($this->hasSeenProbe($probe) || $this->probesSeen !== []) {
                    return;
                }
                $this->assertAlive();
                usleep(10_000);
            }
            if (microtime(true) >= $deadline) {
                $this->process->kill();
                Failure::raise("mosquitto_sub -V 5 on \"{$this->filter}\" was not subscribed within " . self::START_TIMEOUT . 's' . $this->describeTail());
            }
        }
    }

    private function publishProbe(): string
    {
        $probe = 'probe-' . ++$this->probes;
        $this->broker->mosquittoPub($this->probeTopic, $probe, 1);
        return $probe;
    }

    private function hasSeenProbe(string $probe): bool
    {
        $this->parse();
        return in_array($probe, $this->probesSeen, true);
    }

    /** Parses the complete records written since the last call. */
    private function parse(): void
    {
        clearstatcache(true, $this->output);
        $size = @filesize($this->output);
        if ($size === false || $size <= $this->parsedBytes) {
            return;
        }
        $chunk = (string) file_get_contents($this->output, false, null, $this->parsedBytes, $size - $this->parsedBytes);
        $offset = 0;
        while ($offset < strlen($chunk)) {
            if (strncmp(substr($chunk, $offset), self::RECORD_START, min(strlen(self::RECORD_START), strlen($chunk) - $offset)) !== 0) {
                Failure::raise('mosquitto_sub -V 5 output does not start a record here: ' . var_export(substr($chunk, $offset, 200), true));
            }
            $end = strpos($chunk, self::RECORD_END, $offset);
            if ($end === false) {
                break;
            }
            $this->record(substr($chunk, $offset + strlen(self::RECORD_START), $end - $offset - strlen(self::RECORD_START)));
            $offset = $end + strlen(self::RECORD_END);
        }
        $this->parsedBytes += $offset;
    }

    private function record(string $record): void
    {
        // Fields are separated by ESC (the one after the last is part of RECORD_END).
        $fields = explode("\e", $record);
        $payload = count($fields) === self::FIELDS ? hex2bin($fields[1]) : false;
        if ($payload === false) {
            Failure::raise('unparsable mosquitto_sub -V 5 record (does a value contain ESC?): ' . var_export($record, true));
        }
        [$topic, , $qos, $retain, $userProperties, $contentType, $correlationData, $expiry, $responseTopic] = $fields;
        if (str_starts_with($topic, self::PROBE_PREFIX)) {
            $this->probesSeen[] = $payload;
            return;
        }
        $this->messages[] = [
            'topic' => $topic,
            'payload' => $payload,
            'qos' => (int) $qos,
            'retain' => $retain === '1',
            'user_properties' => $userProperties,
            'content_type' => $contentType === '' ? null : $contentType,
            'correlation_data' => $correlationData === '' ? null : $correlationData,
            'message_expiry_interval' => $expiry === '' ? null : (int) $expiry,
            'response_topic' => $responseTopic === '' ? null : $responseTopic,
        ];
    }

    private function assertAlive(): void
    {
        if (!$this->process->isRunning()) {
            Failure::raise("mosquitto_sub -V 5 exited with code {$this->process->exitCode()}" . $this->describeTail());
        }
    }

    private function describeTail(): string
    {
        return "\nmosquitto_sub stderr: " . Failure::tail((string) @file_get_contents($this->errors), 10)
            . "\nbroker log:\n" . Failure::tail($this->broker->log(), 20);
    }

    public function __destruct()
    {
        $this->process->kill();
    }
}
