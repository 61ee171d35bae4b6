<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use Mqtt\Message;
use Mqtt\MqttException;
use Mqtt\Subscriber;
use Mqtt\TimeoutException;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\Mqtt5Listener;
use MqttBroadcast\Tests\Support\Mqtt5Publisher;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;
use MqttBroadcast\Tests\Support\PhpResult;
use MqttBroadcast\Tests\Support\PhpScript;
use MqttBroadcast\Tests\Support\TempDir;

/**
 * MQTT 5 (option protocol => '5') against a real mosquitto: the five publish
 * properties (user properties, content type, message expiry interval, response
 * topic, correlation data) from publish() to mosquitto_sub -V 5 and to a
 * Subscriber, and from mosquitto_pub -V 5 to a Subscriber; the prefix on
 * response topics; bad properties and options; 3.1.1 connections, which
 * neither send nor receive properties; publishes the broker refuses with a
 * reason code (an ACL); the broker's receive maximum; persistent sessions and
 * their expiry; message expiry as the broker applies it.
 */
final class Mqtt5Test extends MqttTestCase
{
    private const SYNC_TIMEOUT = 10.0;
    /** mosquitto_sub and mosquitto_pub print the reason code 0x87 as "Not authorized". */
    private const NOT_AUTHORIZED = '/not authori[sz]ed/i';

    /** @var list<Mqtt5Listener> */
    private array $listeners5 = [];
    /** @var list<string> */
    private array $dirs = [];

    protected function tearDown(): void
    {
        parent::tearDown();
        foreach ($this->listeners5 as $listener) {
            $listener->stop();
        }
        foreach ($this->dirs as $dir) {
            TempDir::remove($dir);
        }
        $this->listeners5 = [];
        $this->dirs = [];
    }

    // --- properties, both ways ------------------------------------------------------------

    public function testEveryPropertyPublishedArrivesAtMosquittoSubAndAtASubscriber(): void
    {
        $base = $this->topic('props');
        $listener = $this->listen5($this->topic('#'));
        $subscriber = $this->subscriberOn($this->topic('#'), $this->v5());
        $publisher = $this->client($this->v5());

        $pairs = [
            ['tag', 'first'],
            ['trace-id', '4bf92f3577b34da6'],
            ['tag', 'second'],
            ['grüße', 'wert mit ü, spaces: and a colon'],
            ['empty', ''],
        ];
        $all = [
            'user_properties' => $pairs,
            'content_type' => 'text/plain; charset=utf-8; note="Grüße ✓"',
            'message_expiry_interval' => 3600,
            'response_topic' => $this->topic('replies/1'),
            'correlation_data' => "\x00corr\x01\xff\n\x00",
        ];
        $publisher->publishSync("$base/all", 'all five', 1, false, self::SYNC_TIMEOUT, $all);
        $publisher->publish("$base/map", 'map form, QoS 0', 0, false, ['user_properties' => ['a' => '1', 'b' => 'two words'], 'content_type' => 'application/json']);
        $publisher->publish("$base/correlation", 'correlation only, QoS 2', 2, false, ['correlation_data' => "\x00"]);
        $publisher->publish("$base/null", 'properties null', 1, false, null);
        $publisher->publish("$base/empty", 'properties empty', 1, false, []);
        $this->assertTrue($publisher->flush(self::SYNC_TIMEOUT), json_encode($publisher->status()));

        // What an independent MQTT 5 client receives.
        $listener->waitFor(5);
        $seen = $listener->messageWithPayload('all five');
        $this->assertSame("$base/all", $seen['topic']);
        $this->assertSame(Mqtt5Listener::printedUserProperties($pairs), $seen['user_properties'], 'every user property in order, the repeated name twice');
        $this->assertSame($all['content_type'], $seen['content_type']);
        $this->assertSame($all['correlation_data'], $seen['correlation_data'], 'binary correlation data, byte for byte');
        $this->assertSame($all['response_topic'], $seen['response_topic']);
        $this->assertExpiryLeft(3600, $seen['message_expiry_interval'], 'mosquitto_sub');

        $map = $listener->messageWithPayload('map form, QoS 0');
        $this->assertSame(['a:1 b:two words', 'application/json', null, null, null], [
            $map['user_properties'], $map['content_type'], $map['correlation_data'], $map['message_expiry_interval'], $map['response_topic'],
        ]);
        $correlation = $listener->messageWithPayload('correlation only, QoS 2');
        $this->assertSame(2, $correlation['qos']);
        $this->assertSame(['', null, "\x00", null, null], [
            $correlation['user_properties'], $correlation['content_type'], $correlation['correlation_data'], $correlation['message_expiry_interval'], $correlation['response_topic'],
        ]);
        foreach (['properties null', 'properties empty'] as $payload) {
            $none = $listener->messageWithPayload($payload);
            $this->assertSame(['', null, null, null, null], [
                $none['user_properties'], $none['content_type'], $none['correlation_data'], $none['message_expiry_interval'], $none['response_topic'],
            ], $payload);
        }

        // What the extension's own Subscriber makes of them.
        $received = $this->byPayload($this->collect($subscriber, 5, 'the five messages'));
        $this->assertProperties([
            'user_properties' => ['tag' => ['first', 'second'], 'trace-id' => '4bf92f3577b34da6', 'grüße' => 'wert mit ü, spaces: and a colon', 'empty' => ''],
            'content_type' => $all['content_type'],
            'message_expiry_interval' => 3600,
            'response_topic' => $all['response_topic'],
            'correlation_data' => $all['correlation_data'],
        ], $received['all five']);
        $this->assertProperties(['user_properties' => ['a' => '1', 'b' => 'two words'], 'content_type' => 'application/json'], $received['map form, QoS 0']);
        $this->assertProperties(['correlation_data' => "\x00"], $received['correlation only, QoS 2']);
        $this->assertSame([], $received['properties null']->properties, 'a message without properties has none');
        $this->assertSame([], $received['properties empty']->properties);

        $message = $received['all five'];
        $written = true;
        try {
            $message->properties = ['changed' => true];
        } catch (\Throwable) {
            $written = false;
        }
        $this->assertFalse($written, 'writing Message::$properties throws');
        $this->assertSame($all['response_topic'], $message->properties['response_topic'], 'read-only');
    }

    public function testPropertiesFromMosquittoPubArriveInMessageProperties(): void
    {
        $subscriber = $this->subscriberOn($this->topic('#'), $this->v5());
        $correlation = "corr-\x01\x7f\xc3\xbc\xff";

        Mqtt5Publisher::publish(static::broker(), $this->topic('from-cli'), 'from mosquitto_pub', [
            'user_properties' => [['tag', 'first'], ['origin', 'mosquitto_pub ü'], ['tag', 'second'], ['tag', 'third']],
            'content_type' => 'application/vnd.example+json; ü',
            'message_expiry_interval' => 120,
            'response_topic' => $this->topic('replies/cli'),
            'correlation_data' => $correlation,
        ], 2);
        Mqtt5Publisher::publish(static::broker(), $this->topic('from-cli'), 'user properties only', ['user_properties' => ['only' => 'this']], 1);
        Mqtt5Publisher::publish(static::broker(), $this->topic('from-cli'), 'no properties', [], 1);

        $received = $this->byPayload($this->collect($subscriber, 3, 'the messages of mosquitto_pub'));
        $this->assertProperties([
            'user_properties' => ['tag' => ['first', 'second', 'third'], 'origin' => 'mosquitto_pub ü'],
            'content_type' => 'application/vnd.example+json; ü',
            'message_expiry_interval' => 120,
            'response_topic' => $this->topic('replies/cli'),
            'correlation_data' => $correlation,
        ], $received['from mosquitto_pub']);
        $this->assertSame(2, $received['from mosquitto_pub']->qos);
        $this->assertProperties(['user_properties' => ['only' => 'this']], $received['user properties only']);
        $this->assertSame([], $received['no properties']->properties);
    }

    public function testResponseTopicGetsThePrefixOnTheWayOutAndLosesItOnTheWayIn(): void
    {
        $broker = static::broker();
        $prefix = 'app-' . $this->uniq() . '/';
        $listener = $this->listen5($prefix . '#');
        $prefixed = $this->subscriberOn('#', $this->v5(['prefix' => $prefix]));
        $unprefixed = $this->subscriberOn($prefix . '#', $this->v5());
        $publisher = $this->client($this->v5(['prefix' => $prefix]));

        $publisher->publishSync('orders/1', 'from php', 1, null, self::SYNC_TIMEOUT, ['response_topic' => 'replies/orders/1']);
        Mqtt5Publisher::publish($broker, $prefix . 'orders/2', 'from mosquitto_pub', ['response_topic' => $prefix . 'replies/orders/2']);
        Mqtt5Publisher::publish($broker, $prefix . 'orders/3', 'answer outside the prefix', ['response_topic' => 'elsewhere/orders/3']);

        $listener->waitFor(3);
        $seen = $listener->messageWithPayload('from php');
        $this->assertSame($prefix . 'orders/1', $seen['topic']);
        $this->assertSame($prefix . 'replies/orders/1', $seen['response_topic'], 'the prefix goes in front of the response topic as in front of the topic');

        $received = $this->byPayload($this->collect($prefixed, 3, 'through the prefixed connection'));
        $this->assertSame('orders/1', $received['from php']->topic);
        $this->assertSame(['response_topic' => 'replies/orders/1'], $received['from php']->properties);
        $this->assertSame('orders/2', $received['from mosquitto_pub']->topic);
        $this->assertSame(['response_topic' => 'replies/orders/2'], $received['from mosquitto_pub']->properties, 'the prefix is stripped like from the topic');
        $this->assertSame(['response_topic' => 'elsewhere/orders/3'], $received['answer outside the prefix']->properties, 'a response topic outside the prefix stays as it is');

        $plain = $this->byPayload($this->collect($unprefixed, 3, 'through a connection without prefix'));
        $this->assertSame(['response_topic' => $prefix . 'replies/orders/1'], $plain['from php']->properties);
        $this->assertSame(['response_topic' => $prefix . 'replies/orders/2'], $plain['from mosquitto_pub']->properties);
    }

    // --- argument and option checks --------------------------------------------------------

    /** @return iterable<string, array{array<string,mixed>, string}> properties => what the message must name besides $properties */
    public static function badProperties(): iterable
    {
        yield 'unknown key' => [['content-type' => 'text/plain'], 'content-type'];
        yield 'unknown key in camel case' => [['userProperties' => ['a' => 'b']], 'userProperties'];
        yield 'a list, not keyed by property name' => [['content_type'], '$properties'];
        yield 'user_properties a string' => [['user_properties' => 'k=v'], 'user_properties'];
        yield 'user property value an array' => [['user_properties' => ['k' => ['v']]], 'user_properties'];
        yield 'user property value a bool' => [['user_properties' => ['k' => true]], 'user_properties'];
        yield 'user property pair of one' => [['user_properties' => [['k']]], 'user_properties'];
        yield 'user property pair of three' => [['user_properties' => [['k', 'v', 'w']]], 'user_properties'];
        yield 'user property name an array' => [['user_properties' => [[['k'], 'v']]], 'user_properties'];
        yield 'user property value with NUL' => [['user_properties' => ['k' => "a\0b"]], 'user_properties'];
        yield 'user property name with NUL' => [['user_properties' => ["k\0" => 'v']], 'user_properties'];
        yield 'user property value not UTF-8' => [['user_properties' => ['k' => "\xff\xfe"]], 'user_properties'];
        yield 'content_type an int' => [['content_type' => 5], 'content_type'];
        yield 'content_type an array' => [['content_type' => ['text/plain']], 'content_type'];
        yield 'content_type with NUL' => [['content_type' => "text/\0plain"], 'content_type'];
        yield 'content_type not UTF-8' => [['content_type' => "text/\xff"], 'content_type'];
        yield 'content_type of 65536 bytes' => [['content_type' => str_repeat('a', 65536)], 'content_type'];
        yield 'message_expiry_interval negative' => [['message_expiry_interval' => -1], 'message_expiry_interval'];
        yield 'message_expiry_interval above 4294967295' => [['message_expiry_interval' => 4294967296], 'message_expiry_interval'];
        yield 'message_expiry_interval a fraction' => [['message_expiry_interval' => 1.5], 'message_expiry_interval'];
        yield 'message_expiry_interval a word' => [['message_expiry_interval' => 'soon'], 'message_expiry_interval'];
        yield 'response_topic with +' => [['response_topic' => 'replies/+/x'], 'response_topic'];
        yield 'response_topic with #' => [['response_topic' => 'replies/#'], 'response_topic'];
        yield 'response_topic empty' => [['response_topic' => ''], 'response_topic'];
        yield 'response_topic with NUL' => [['response_topic' => "replies/\0"], 'response_topic'];
        yield 'response_topic an int' => [['response_topic' => 42], 'response_topic'];
        yield 'correlation_data an int' => [['correlation_data' => 42], 'correlation_data'];
        yield 'correlation_data an array' => [['correlation_data' => ['x']], 'correlation_data'];
        yield 'correlation_data of 65536 bytes' => [['correlation_data' => str_repeat("\0", 65536)], 'correlation_data'];
    }

    /** @dataProvider badProperties */
    public function testBadPropertiesThrowValueErrorNamingThem(array $properties, string $mention): void
    {
        $topic = $this->topic('bad-properties');
        $listener = $this->listen($this->topic('#'));
        $client = $this->client($this->v5());
        foreach ($this->propertiesErrors($client, $topic, $properties) as $method => $error) {
            $this->assertStringContainsString($mention, $error, $method);
        }
        $listener->sync();
        $this->assertSame([], $listener->messages(), 'nothing was published');
        $this->assertSame(0, $client->status()['published']);
        $this->assertSame(0, $client->status()['queued']);
    }

    public function testPropertyValuesAtTheirLimitsAreAccepted(): void
    {
        $topic = $this->topic('limits');
        $listener = $this->listen5($topic);
        $client = $this->client($this->v5());
        $longest = str_repeat("\xff", 65535);

        $client->publishSync($topic, 'expiry 0', 1, null, self::SYNC_TIMEOUT, ['message_expiry_interval' => 0]);
        $client->publishSync($topic, 'expiry 4294967295', 1, null, self::SYNC_TIMEOUT, ['message_expiry_interval' => 4294967295]);
        $client->publishSync($topic, 'correlation of 65535 bytes', 1, null, self::SYNC_TIMEOUT, ['correlation_data' => $longest]);
        $client->publishSync($topic, 'no user properties', 1, null, self::SYNC_TIMEOUT, ['user_properties' => []]);

        $listener->waitFor(4);
        $this->assertSame($longest, $listener->messageWithPayload('correlation of 65535 bytes')['correlation_data']);
        $this->assertSame('', $listener->messageWithPayload('no user properties')['user_properties']);
        $this->assertSame(0, $client->status()['refused']);
    }

    /** @return iterable<string, array{mixed}> */
    public static function badProtocols(): iterable
    {
        yield 'MQTT 3.1' => ['3.1'];
        yield 'v5' => ['v5'];
        yield 'mqttv5' => ['mqttv5'];
        yield 'the string 4' => ['4'];
        yield 'the int 4' => [4];
        yield 'empty' => [''];
        yield 'a bool' => [true];
        yield 'a float' => [3.1];
        yield 'an array' => [['5']];
    }

    /** @dataProvider badProtocols */
    public function testBadProtocolIsAConfigExceptionNamingIt(mixed $protocol): void
    {
        try {
            new Client(array_replace($this->options(), ['protocol' => $protocol]), 'bad-protocol-' . $this->uniq());
            $this->fail('protocol ' . var_export($protocol, true) . ' was accepted');
        } catch (ConfigException $e) {
            $this->assertStringContainsString('protocol', $e->getMessage());
        }
        $this->assertArrayNotHasKey('bad-protocol-' . $this->uniq(), Client::connections());
    }

    /** @return iterable<string, array{array<string,mixed>}> */
    public static function badSessionExpiries(): iterable
    {
        yield 'negative' => [['protocol' => '5', 'session_expiry_interval' => -1]];
        yield 'above 4294967295' => [['protocol' => '5', 'session_expiry_interval' => 4294967296]];
        yield 'a word' => [['protocol' => '5', 'session_expiry_interval' => 'forever']];
        yield 'a fraction' => [['protocol' => '5', 'session_expiry_interval' => 1.5]];
        yield 'an array' => [['protocol' => '5', 'session_expiry_interval' => [60]]];
        yield 'with protocol 3.1.1' => [['protocol' => '3.1.1', 'session_expiry_interval' => 60]];
        yield 'with the default protocol' => [['session_expiry_interval' => 60]];
        yield 'zero with the default protocol' => [['session_expiry_interval' => 0]];
        yield 'with a persistent 3.1.1 session' => [['clean_session' => false, 'client_id' => 'fixed', 'session_expiry_interval' => 3600]];
    }

    /** @dataProvider badSessionExpiries */
    public function testBadSessionExpiryIntervalIsAConfigExceptionNamingIt(array $options): void
    {
        try {
            new Client(array_replace($this->defaultProtocol(), $options), 'bad-expiry-' . $this->uniq());
            $this->fail('accepted ' . json_encode($options));
        } catch (ConfigException $e) {
            $this->assertStringContainsString('session_expiry_interval', $e->getMessage());
        }
        $this->assertArrayNotHasKey('bad-expiry-' . $this->uniq(), Client::connections());
    }

    public function testProtocolOptionSetsTheVersionTheBrokerSees(): void
    {
        $broker = static::broker();
        $clients = [
            'default' => [$this->defaultProtocol(), '(p2|p4)'],
            '3.1.1' => [$this->options(['protocol' => '3.1.1']), '(p2|p4)'],
            '5' => [$this->v5(), 'p5'],
            '5 with session_expiry_interval 0' => [$this->v5(['session_expiry_interval' => 0]), 'p5'],
            '5 with session_expiry_interval 4294967295' => [$this->v5(['session_expiry_interval' => 4294967295]), 'p5'],
        ];
        foreach ($clients as $what => [$options, $version]) {
            $client = $this->client($options);
            $client->publishSync($this->topic('version'), (string) $what, 1, null, self::SYNC_TIMEOUT);
            // Mosquitto 2.0 logs its own numbers, MQTT 3.1.1 as p2; 2.1 the protocol level
            // of the CONNECT, p4. MQTT 5 is p5 in both.
            $this->assertNotSame(
                [],
                $broker->logLinesMatching('/New client connected from \S+ as ' . preg_quote($options['client_id'], '/') . ' \(' . $version . ',/'),
                "protocol $what connects as $version:\n" . Failure::tail($broker->log())
            );
        }
    }

    // --- MQTT 3.1.1 connections -----------------------------------------------------------

    public function testA311ConnectionRefusesPropertiesAndReceivesNone(): void
    {
        $topic = $this->topic('v311');
        $listener = $this->listen($this->topic('#'));
        $client = $this->client($this->options(['protocol' => '3.1.1']));
        foreach ([['content_type' => 'text/plain'], ['user_properties' => ['k' => 'v']]] as $properties) {
            foreach ($this->propertiesErrors($client, $topic, $properties) as $method => $error) {
                $this->assertMatchesRegularExpression('/protocol\W+5\b/', $error, "$method says properties need protocol '5'");
            }
        }
        $listener->sync();
        $this->assertSame([], $listener->messages(), 'nothing was published');

        $client->publishSync($topic, 'null properties', 1, null, self::SYNC_TIMEOUT, null);
        $client->publishSync($topic, 'empty properties', 1, null, self::SYNC_TIMEOUT, []);
        $this->assertSame([[$topic, 'null properties'], [$topic, 'empty properties']], $listener->waitFor(2));
        $this->assertSame(0, $client->status()['refused']);

        // An MQTT 3.1.1 subscription cannot carry properties, whatever the publisher sent.
        $subscriber = $this->subscriberOn($this->topic('in/#'), $this->options(['protocol' => '3.1.1']));
        Mqtt5Publisher::publish(static::broker(), $this->topic('in/props'), 'sent with properties', [
            'user_properties' => ['k' => 'v'],
            'content_type' => 'text/plain',
            'response_topic' => $this->topic('replies'),
            'correlation_data' => 'c',
            'message_expiry_interval' => 60,
        ]);
        $message = $this->collect($subscriber, 1, 'the message from mosquitto_pub -V 5')[0];
        $this->assertSame('sent with properties', $message->payload);
        $this->assertSame([], $message->properties);
    }

    // --- publishes the broker refuses -----------------------------------------------------

    /** @return iterable<string, array{int}> */
    public static function refusableQos(): iterable
    {
        yield 'QoS 1: PUBACK 0x87' => [1];
        yield 'QoS 2: PUBREC 0x87' => [2];
    }

    /**
     * Mosquitto 2.0.11 answers a denied PUBLISH with reason code 0x87 and then
     * closes the connection: what comes next goes out after a reconnect.
     *
     * @dataProvider refusableQos
     */
    public function testPublishSyncTheBrokerRefusesThrowsItsReasonAndIsNotRetried(int $qos): void
    {
        $broker = $this->aclBroker();
        $listener = $this->listen($this->topic('#'), $broker);
        $client = $this->client($this->v5([], $broker));
        $denied = 'denied/' . $this->uniq() . '/sync';

        $client->publishSync($this->topic('ok'), 'before', $qos, null, self::SYNC_TIMEOUT);
        try {
            $client->publishSync($denied, 'refused', $qos, null, self::SYNC_TIMEOUT);
            $this->fail('publishSync() returned although the broker refused the message');
        } catch (TimeoutException $e) {
            $this->fail('publishSync() timed out instead of reporting the refusal: ' . $e->getMessage() . "\nstatus: " . json_encode($client->status()));
        } catch (MqttException $e) {
            $this->assertMatchesRegularExpression(self::NOT_AUTHORIZED, $e->getMessage());
            $this->assertStringContainsString($denied, $e->getMessage(), 'names the topic');
        }
        $this->assertSame(1, $client->status()['refused'], json_encode($client->status()));

        $client->publishSync($this->topic('ok'), 'after', $qos, null, self::SYNC_TIMEOUT);
        $listener->sync();
        $this->assertSame(['before', 'after'], array_values(array_unique($listener->payloads())), 'the connection keeps working');
        $status = $client->status();
        $this->assertSame(1, $status['refused'], json_encode($status));
        $this->assertMatchesRegularExpression(self::NOT_AUTHORIZED, (string) $status['last_error'], 'last_error says why: ' . json_encode($status));
        $this->assertSame(0, $status['queued']);
        $this->assertSame(0, $status['in_flight']);
        $this->assertCount(1, $this->deniedPublishes($broker, $status['client_id'], $denied), "sent once, never retried:\n" . Failure::tail($broker->log(), 40));
    }

    public function testAsyncPublishTheBrokerRefusesIsCountedOnceFlushed(): void
    {
        $broker = $this->aclBroker();
        $listener = $this->listen($this->topic('#'), $broker);
        $client = $this->client($this->v5(['flush_timeout' => 20], $broker));
        $denied = 'denied/' . $this->uniq() . '/async';

        $client->publish($denied, 'refused', 1);
        $expected = [];
        for ($i = 1; $i <= 5; $i++) {
            $client->publish($this->topic('ok'), "ok-$i", 1);
            $expected[] = "ok-$i";
        }
        $this->assertTrue($client->flush(20.0), 'nothing is left queued: ' . json_encode($client->status()));

        $status = $client->status();
        $this->assertSame(1, $status['refused'], json_encode($status));
        $this->assertSame(0, $status['queued']);
        $this->assertSame(0, $status['in_flight']);
        $this->assertMatchesRegularExpression(self::NOT_AUTHORIZED, (string) $status['last_error'], json_encode($status));
        // The broker closed the connection after refusing: what it had not read yet went out again after the reconnect.
        $listener->waitFor(5);
        $listener->sync();
        $this->assertSameMultiset($expected, array_values(array_unique($listener->payloads())));
        $this->assertCount(1, $this->deniedPublishes($broker, $status['client_id'], $denied), "sent once, never retried:\n" . Failure::tail($broker->log(), 40));
    }

    public function testAPublishNobodySubscribesToIsAcknowledgedNotRefused(): void
    {
        // To an MQTT 5 client mosquitto answers such a QoS 1 publish with PUBACK 0x10 "no matching subscribers": a success.
        $client = $this->client($this->v5());
        $client->publishSync($this->topic('nobody/1'), 'unheard', 1, null, self::SYNC_TIMEOUT);
        $client->publishSync($this->topic('nobody/2'), 'unheard', 2, null, self::SYNC_TIMEOUT);

        $status = $client->status();
        $this->assertSame(0, $status['refused'], json_encode($status));
        $this->assertSame(2, $status['acknowledged'], json_encode($status));
        $this->assertSame(0, $status['reconnects']);
        $this->assertNull($status['last_error']);
    }

    /**
     * A broker that announces a maximum packet size (mosquitto: max_packet_size) would
     * drop the connection on a larger packet, and again after every reconnect: such a
     * publish is refused instead, also one queued before the broker told its limit.
     */
    public function testAPublishLargerThanTheBrokersMaximumPacketSizeIsRefusedAndTheConnectionStays(): void
    {
        $broker = Broker::start(['max_packet_size 1000']);
        $topic = $this->topic('size');
        $listener = $this->listen($topic, $broker);
        $client = $this->client($this->v5(['flush_timeout' => 20], $broker));
        $client->publishSync($topic, 'small', 1, null, self::SYNC_TIMEOUT);

        try {
            $client->publishSync($topic, str_repeat('x', 2000), 1, null, self::SYNC_TIMEOUT);
            $this->fail('publishSync() took a packet larger than the broker takes');
        } catch (TimeoutException $e) {
            $this->fail('timed out instead of refusing: ' . $e->getMessage() . "\nstatus: " . json_encode($client->status()));
        } catch (MqttException $e) {
            $this->assertStringContainsString('at most 1000 bytes', $e->getMessage());
            $this->assertStringContainsString($topic, $e->getMessage());
        }

        $this->assertSame(0, $client->status()['reconnects']);

        // A new client queues while the broker is away, so before a CONNACK told the limit.
        $broker->stop();
        $fresh = $this->client($this->v5(['flush_timeout' => 20], $broker));
        $fresh->publish($topic, str_repeat('y', 2000), 1);
        $fresh->publish($topic, 'queued', 1);
        $broker->resume();
        $this->assertTrue($fresh->flush(20.0), json_encode($fresh->status()));

        $status = $fresh->status();
        $this->assertSame(1, $status['refused'], json_encode($status));
        $this->assertSame(0, $status['reconnects'], json_encode($status));
        $this->assertStringContainsString('at most 1000 bytes', (string) $status['last_error']);
        $listener->waitFor(2);
        $listener->sync();
        $this->assertSame(['small', 'queued'], array_values(array_unique($listener->payloads())));
    }

    // --- receive maximum ------------------------------------------------------------------

    public function testTheBrokersReceiveMaximumIsRespected(): void
    {
        // Announces receive maximum 5 in its CONNACK and disconnects an MQTT 5
        // client with more QoS 2 messages unreleased (PUBREC 0x97 "quota exceeded").
        $broker = Broker::start(['max_inflight_messages 5']);
        $topic = $this->topic('window');
        $listener = $this->listen($topic, $broker);
        $client = $this->client($this->v5(['max_inflight' => 20, 'flush_timeout' => 60], $broker));

        $expected = [];
        for ($i = 1; $i <= 200; $i++) {
            $client->publish($topic, "m-$i", $i % 2 === 0 ? 1 : 2);
            $expected[] = "m-$i";
        }
        $this->assertTrue($client->flush(60.0), json_encode($client->status()));

        $status = $client->status();
        $log = "\nbroker log:\n" . Failure::tail($broker->log(), 40);
        $this->assertSame([], $broker->logLinesMatching('/Sending PUBREC to \S+ \(m\d+, rc151\)/'), 'no publish over the quota' . $log);
        $this->assertSame(0, $status['reconnects'], json_encode($status) . $log);
        $this->assertSame(0, $status['refused'], json_encode($status));
        $this->assertSame(200, $status['acknowledged'], json_encode($status));
        $this->assertSame(0, $status['queued']);
        $this->assertSame(0, $status['in_flight']);
        $listener->waitFor(200, 30.0);
        $this->assertSameMultiset($expected, array_values(array_unique($listener->payloads())));
    }

    public function testAnUnreadSubscriberDoesNotStallTheOthersOfItsConnection(): void
    {
        // Mosquitto sends an MQTT 5 client at most what its CONNECT's receive
        // maximum says, or max_inflight_messages (20) when it says nothing.
        $topic = $this->topic('window');
        $publisher = $this->client($this->v5());
        $client = $this->client($this->v5());
        $this->assertTrue($client->waitConnected(10.0), json_encode($client->status()));
        [$unread, $read] = [new Subscriber([$client]), new Subscriber([$client])];
        $unread->subscribe("$topic/unread", 1);
        $read->subscribe("$topic/read", 1);

        for ($i = 1; $i <= 50; $i++) {
            $publisher->publish("$topic/unread", "waiting-$i", 1);
        }
        $publisher->publishSync("$topic/read", 'behind fifty', 1, false, self::SYNC_TIMEOUT);

        $message = $read->next(10.0);
        $this->assertNotNull($message, 'the read subscriber waited for the unread one');
        $this->assertSame('behind fifty', $message->payload);
        $this->assertSame(
            array_map(fn ($i) => "waiting-$i", range(1, 50)),
            array_map(fn (Message $m) => $m->payload, $this->collect($unread, 50, 'the unread subscriber\'s backlog')),
        );
    }

    public function testReceiveMaximumIsTheWindowTheBrokerSendsIn(): void
    {
        $topic = $this->topic('small-window');
        $publisher = $this->client($this->v5());
        $options = $this->v5(['receive_maximum' => 5]);
        $client = $this->client($options);
        $this->assertTrue($client->waitConnected(10.0), json_encode($client->status()));
        [$unread, $read] = [new Subscriber([$client]), new Subscriber([$client])];
        $unread->subscribe("$topic/unread", 1);
        $read->subscribe("$topic/read", 1);

        for ($i = 1; $i <= 5; $i++) {
            $publisher->publish("$topic/unread", "waiting-$i", 1);
        }
        $publisher->publishSync("$topic/read", 'sixth', 1, false, self::SYNC_TIMEOUT);

        // Five unacknowledged messages fill the window: the sixth stays at the broker.
        $this->assertNull($read->next(1.0), 'the broker sent more than the receive maximum');
        $this->assertCount(5, $this->collect($unread, 5, 'the five in the window'));
        $message = $read->next(10.0);
        $this->assertNotNull($message, 'the sixth after the window emptied');
        $this->assertSame('sixth', $message->payload);
    }

    /** @return iterable<string, array{array<string,mixed>}> */
    public static function badReceiveMaximums(): iterable
    {
        yield 'zero' => [['protocol' => '5', 'receive_maximum' => 0]];
        yield 'above 65535' => [['protocol' => '5', 'receive_maximum' => 65536]];
        yield 'a word' => [['protocol' => '5', 'receive_maximum' => 'many']];
        yield 'with protocol 3.1.1' => [['protocol' => '3.1.1', 'receive_maximum' => 100]];
    }

    /** @dataProvider badReceiveMaximums */
    public function testBadReceiveMaximumIsAConfigExceptionNamingIt(array $options): void
    {
        $this->expectException(ConfigException::class);
        $this->expectExceptionMessage('"receive_maximum"');
        new Client(array_replace($this->defaultProtocol(), $options), 'bad-window-' . $this->uniq());
    }

    // --- sessions -------------------------------------------------------------------------

    public function testQos1MessagesPublishedWhileAV5SubscriberIsAwayArriveWithTheirProperties(): void
    {
        $broker = static::broker();
        $filter = $this->topic('session/#');
        $options = $this->v5(['client_id' => 'session5-' . $this->uniq(), 'clean_session' => false]);
        $id = preg_quote($options['client_id'], '/');

        $first = $this->runSubscriber($options, $filter, 0);
        $this->assertSame([], $this->received($first));
        $this->assertNotSame([], $broker->logLinesMatching("/Received SUBSCRIBE from $id\$/"), $first->describe());

        $publisher = $this->client($this->v5());
        $expected = [];
        for ($i = 1; $i <= 5; $i++) {
            $topic = $this->topic("session/$i");
            $properties = ['correlation_data' => "c-$i", 'user_properties' => ['n' => (string) $i]];
            $publisher->publishSync($topic, "while away $i", 1, null, self::SYNC_TIMEOUT, $properties);
            $expected[] = [$topic, "while away $i", $properties];
        }
        // Longer than a short session expiry would last: without session_expiry_interval
        // a persistent session never expires, as with MQTT 3.1.1.
        sleep(3);
        $this->assertSame([], $broker->logLinesMatching("/Expiring client $id /"), 'the broker kept the session');

        $second = $this->runSubscriber($options, $filter, 5);
        // QoS 1 is at least once: a duplicate is allowed, a loss is not.
        $this->assertSame($expected, array_values(array_unique($this->received($second), SORT_REGULAR)), $second->describe() . "\nbroker log:\n" . Failure::tail($broker->log(), 40));
        $this->assertEveryConnectionKeptTheSessionWithMqtt5($broker, $options['client_id']);
    }

    public function testACleanV5SessionEndsWithTheConnectionWhileAPersistentOneOutlivesIt(): void
    {
        // Another MQTT 5 client (mosquitto_sub -c) resumes each session: only a
        // session the broker kept after the PHP process left has the message queued meanwhile.
        $broker = static::broker();
        $publisher = $this->client($this->v5());
        $resumed = [];
        foreach (['clean' => true, 'persistent' => false] as $kind => $clean) {
            $filter = $this->topic("$kind/#");
            $options = $this->v5(['client_id' => "$kind-" . $this->uniq(), 'clean_session' => $clean]);
            $this->assertSame([], $this->received($this->runSubscriber($options, $filter, 0)));
            $publisher->publishSync($this->topic("$kind/1"), "queued for the $kind session", 1, null, self::SYNC_TIMEOUT);
            $resumed[$kind] = $this->resumeWithMosquittoSub($broker, $options['client_id'], $filter);
        }
        $this->assertSame([], $resumed['clean'], 'clean_session true: session expiry 0, the broker kept nothing');
        $this->assertSame(['queued for the persistent session'], $resumed['persistent'], 'clean_session false: the session never expires');
    }

    public function testSessionExpiryIntervalEndsTheSessionOnceTheProcessIsGone(): void
    {
        $broker = static::broker();
        $filter = $this->topic('expiry/#');
        $options = $this->v5(['client_id' => 'expiry5-' . $this->uniq(), 'clean_session' => false, 'session_expiry_interval' => 1]);
        $id = preg_quote($options['client_id'], '/');

        $this->assertSame([], $this->received($this->runSubscriber($options, $filter, 0)));
        $publisher = $this->client($this->v5());
        $publisher->publishSync($this->topic('expiry/1'), 'while away, before the session expired', 1, null, self::SYNC_TIMEOUT);
        // Mosquitto looks for expired sessions about once a second and logs each it ends.
        $this->awaitLogLine($broker, "/Expiring client $id due to timeout\\./", 15.0, 'the broker ends the session 1 s after the process left');
        $publisher->publishSync($this->topic('expiry/2'), 'while away, after the session expired', 1, null, self::SYNC_TIMEOUT);

        $second = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'session');
            $subscriber = new Mqtt\Subscriber([$client]);
            // Subscribed before the connection is up, so messages the broker kept are not missed.
            $subscriber->subscribe(%s, qos: 1);
            $deadline = microtime(true) + 10.0;
            while (!$client->status()['connected'] && microtime(true) < $deadline) {
                usleep(10_000);
            }
            echo "subscribed\n";
            $deadline = microtime(true) + 30.0;
            while (microtime(true) < $deadline) {
                $message = $subscriber->next(timeout: 0.5);
                if ($message !== null) {
                    echo json_encode([$message->topic, $message->payload]), "\n";
                    if (str_starts_with($message->payload, 'back ')) {
                        break;
                    }
                }
            }
            echo "done\n";
            PHP, var_export($options, true), var_export($filter, true)));
        $second->waitForLine('subscribed');
        // Its new session's subscription is active once the SUBACK is in: publish until one arrives.
        $probes = 0;
        $deadline = microtime(true) + 20.0;
        while (!in_array('done', $second->lines(), true)) {
            if (microtime(true) >= $deadline) {
                $this->fail("the returning process received none of $probes messages published after it subscribed:\n" . $second->describe());
            }
            $publisher->publishSync($this->topic('expiry/back'), 'back ' . ++$probes, 1, null, self::SYNC_TIMEOUT);
            $wait = microtime(true) + 0.5;
            while (!in_array('done', $second->lines(), true) && microtime(true) < $wait) {
                usleep(10_000);
            }
        }
        $this->assertTrue($second->wait(10.0), $second->describe());
        $this->assertSame(0, $second->exitCode(), $second->describe());

        $payloads = array_map(
            static fn (string $line): string => json_decode($line, true)[1],
            array_values(array_filter($second->lines(), static fn (string $line): bool => str_starts_with($line, '[')))
        );
        $this->assertNotSame([], $payloads, $second->describe());
        $this->assertSame([], array_values(array_filter($payloads, static fn (string $p): bool => !str_starts_with($p, 'back '))), 'nothing published while it was away arrives: the session is gone');
        $this->assertEveryConnectionKeptTheSessionWithMqtt5($broker, $options['client_id']);
    }

    // --- message expiry -------------------------------------------------------------------

    public function testTheBrokerDropsARetainedMessageOnceItsExpiryIntervalHasPassed(): void
    {
        $base = $this->topic('retained');
        $publisher = $this->client($this->v5());
        $publisher->publishSync("$base/no-expiry", 'kept', 1, true, self::SYNC_TIMEOUT);
        $publisher->publishSync("$base/one-minute", 'kept for a minute', 1, true, self::SYNC_TIMEOUT, ['message_expiry_interval' => 60]);
        $publisher->publishSync("$base/one-second", 'expires after a second', 1, true, self::SYNC_TIMEOUT, ['message_expiry_interval' => 1]);
        // Mosquitto counts in whole seconds: a 1 s message is gone within 2 s.
        usleep(3_000_000);

        $listener = $this->listen5("$base/#");
        $listener->sync();
        $seen = [];
        foreach ($listener->messages() as $message) {
            $seen[$message['topic']] = $message;
        }
        ksort($seen);
        $this->assertSame(["$base/no-expiry", "$base/one-minute"], array_keys($seen), 'the message with 1 s expiry is gone, the others are retained');
        $this->assertTrue($seen["$base/no-expiry"]['retain']);
        $this->assertNull($seen["$base/no-expiry"]['message_expiry_interval']);
        $this->assertTrue($seen["$base/one-minute"]['retain']);
        $this->assertExpiryLeft(60, $seen["$base/one-minute"]['message_expiry_interval'], 'mosquitto_sub', 20);

        $subscriber = $this->subscriberOn("$base/#", $this->v5());
        $received = $this->byPayload($this->collect($subscriber, 2, 'the retained messages'));
        $this->assertNull($subscriber->next(0.5), 'no third retained message');
        $this->assertTrue($received['kept']->retain);
        $this->assertSame([], $received['kept']->properties);
        $this->assertTrue($received['kept for a minute']->retain);
        $this->assertSame(['message_expiry_interval'], array_keys($received['kept for a minute']->properties));
        $this->assertExpiryLeft(60, $received['kept for a minute']->properties['message_expiry_interval'], 'Subscriber', 20);

        foreach (['no-expiry', 'one-minute', 'one-second'] as $suffix) {
            $publisher->publishSync("$base/$suffix", '', 1, true, self::SYNC_TIMEOUT);
        }
    }

    // --- helpers --------------------------------------------------------------------------

    /** Options of an MQTT 5 client of $broker (default: the shared one); $overrides win. */
    /**
     * publish() and publishSync() with $properties must both throw \ValueError naming the argument.
     *
     * @return array<string, string> the messages, by method
     */
    private function propertiesErrors(Client $client, string $topic, array $properties): array
    {
        $calls = [
            'publish()' => fn () => $client->publish($topic, 'never sent', 1, null, $properties),
            'publishSync()' => fn () => $client->publishSync($topic, 'never sent', 1, null, self::SYNC_TIMEOUT, $properties),
        ];
        $errors = [];
        foreach ($calls as $method => $call) {
            try {
                $call();
                $this->fail("$method accepted " . var_export($properties, true));
            } catch (\ValueError $e) {
                $this->assertStringContainsString('$properties', $e->getMessage(), $method);
                $errors[$method] = $e->getMessage();
            }
        }
        return $errors;
    }

    private function v5(array $overrides = [], ?Broker $broker = null): array
    {
        return $this->options(array_replace(['protocol' => '5'], $overrides), $broker);
    }

    /** Options of a client that leaves protocol at its default (whatever MQTT_BROADCAST_TEST_PROTOCOL says). */
    private function defaultProtocol(): array
    {
        $options = $this->options();
        unset($options['protocol']);
        return $options;
    }

    /** mosquitto_sub -V 5 at QoS 2 (messages keep their QoS), stopped at the end of the test. */
    private function listen5(string $filter, ?Broker $broker = null): Mqtt5Listener
    {
        $listener = Mqtt5Listener::start($broker ?? static::broker(), $filter, 2);
        $this->listeners5[] = $listener;
        return $listener;
    }

    /** A Subscriber on its own connected client, subscribed to $filter at QoS 2. */
    private function subscriberOn(string $filter, array $options): Subscriber
    {
        $client = $this->client($options);
        $deadline = microtime(true) + 10.0;
        while (!$client->status()['connected']) {
            if (microtime(true) >= $deadline) {
                $this->fail('not connected within 10 s: ' . json_encode($client->status()));
            }
            usleep(5_000);
        }
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($filter, 2);
        return $subscriber;
    }

    /**
     * @param list<Message> $messages
     * @return array<string, Message>
     */
    private function byPayload(array $messages): array
    {
        $byPayload = [];
        foreach ($messages as $message) {
            $this->assertArrayNotHasKey($message->payload, $byPayload, 'received twice: ' . $message->payload);
            $byPayload[$message->payload] = $message;
        }
        return $byPayload;
    }

    /** The message carries exactly these properties (a message expiry interval may have counted down a little). */
    private function assertProperties(array $expected, Message $message): void
    {
        $actual = $message->properties;
        $this->assertIsArray($actual);
        if (isset($expected['message_expiry_interval'])) {
            $this->assertArrayHasKey('message_expiry_interval', $actual, $message->payload);
            $this->assertExpiryLeft($expected['message_expiry_interval'], $actual['message_expiry_interval'], $message->payload);
            unset($expected['message_expiry_interval'], $actual['message_expiry_interval']);
        }
        ksort($expected);
        ksort($actual);
        if (isset($expected['user_properties'], $actual['user_properties']) && is_array($actual['user_properties'])) {
            ksort($expected['user_properties']);
            ksort($actual['user_properties']);
        }
        $this->assertSame($expected, $actual, $message->payload);
    }

    /** The broker forwards the seconds left: the interval sent, or a little less. */
    private function assertExpiryLeft(int $sent, mixed $left, string $what, int $slack = 10): void
    {
        $this->assertIsInt($left, "$what: message_expiry_interval");
        $this->assertLessThanOrEqual($sent, $left, "$what: message_expiry_interval");
        $this->assertGreaterThanOrEqual(max(1, $sent - $slack), $left, "$what: message_expiry_interval");
    }

    /** A broker with an ACL: anonymous clients may use every topic but denied/#. */
    private function aclBroker(): Broker
    {
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-acl-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0700)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $this->dirs[] = $dir;
        file_put_contents("$dir/acl", "topic deny denied/#\ntopic readwrite #\n");
        return Broker::start(["acl_file $dir/acl"]);
    }

    /** @return list<string> the broker's log lines of PUBLISHes to $topic it denied this client */
    private function deniedPublishes(Broker $broker, string $clientId, string $topic): array
    {
        return $broker->logLinesMatching('/Denied PUBLISH from ' . preg_quote($clientId, '/') . " \\(d\\d, q\\d, r\\d, m\\d+, '" . preg_quote($topic, '/') . "',/");
    }

    private function awaitLogLine(Broker $broker, string $regex, float $timeout, string $what): void
    {
        $deadline = microtime(true) + $timeout;
        while ($broker->logLinesMatching($regex) === []) {
            if (microtime(true) >= $deadline) {
                $this->fail("not within {$timeout}s: $what\nbroker log:\n" . Failure::tail($broker->log(), 40));
            }
            usleep(50_000);
        }
    }

    /** Every connection with this client id (at least two) spoke MQTT 5 (p5) and asked the broker to keep the session (c0). */
    private function assertEveryConnectionKeptTheSessionWithMqtt5(Broker $broker, string $clientId): void
    {
        $id = preg_quote($clientId, '/');
        $connections = $broker->logLinesMatching("/New client connected from \\S+ as $id \\(/");
        $this->assertGreaterThanOrEqual(2, count($connections), Failure::tail($broker->log(), 40));
        $this->assertSame($connections, $broker->logLinesMatching("/New client connected from \\S+ as $id \\(p5, c0,/"));
    }

    /**
     * Connects as $clientId with mosquitto_sub -V 5 -c (resuming the session the
     * broker kept, if any), subscribes to $filter and returns the payloads that
     * arrived: the one message queued for the session, or none within 3 s.
     *
     * @return list<string>
     */
    private function resumeWithMosquittoSub(Broker $broker, string $clientId, string $filter): array
    {
        $out = $broker->dir() . '/resume-' . bin2hex(random_bytes(4));
        $process = new BackgroundProcess([
            'mosquitto_sub', '-V', 'mqttv5', '-h', $broker->host(), '-p', (string) $broker->port(),
            '-i', $clientId, '-c', '-q', '1', '-t', $filter, '-C', '1', '-W', '3', '-F', '%x',
        ], "$out.out", "$out.err");
        $process->wait(15.0);
        $process->kill();
        $lines = array_values(array_filter(explode("\n", (string) file_get_contents("$out.out")), static fn (string $l): bool => $l !== ''));
        return array_map(static fn (string $hex): string => (string) hex2bin($hex), $lines);
    }

    /** @return list<array{0:string,1:string,2:array}> what a runSubscriber() process received */
    private function received(PhpResult $result): array
    {
        $this->assertSame(0, $result->exitCode, $result->describe());
        $received = @unserialize($result->stdout);
        $this->assertIsArray($received, $result->describe());
        return $received;
    }

    /**
     * A child process with the connection and a Subscriber. With $expect 0 it
     * waits until connected, so its subscription is confirmed before it exits;
     * otherwise it subscribes at once (before messages the broker kept arrive)
     * and collects until it has $expect messages or none came for a while.
     * Prints serialize()d [[topic, payload, properties], ...], properties sorted by key.
     */
    private function runSubscriber(array $options, string $filter, int $expect): PhpResult
    {
        return PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'session');
            $subscriber = new Mqtt\Subscriber([$client]);
            $deadline = microtime(true) + 10.0;
            while (%d === 0 && !$client->status()['connected'] && microtime(true) < $deadline) {
                usleep(10_000);
            }
            $subscriber->subscribe(%s, qos: 1);
            $received = [];
            $deadline = microtime(true) + 10.0;
            while (count($received) < %d && microtime(true) < $deadline) {
                $message = $subscriber->next(timeout: 2.0);
                if ($message !== null) {
                    $properties = $message->properties;
                    ksort($properties);
                    $received[] = [$message->topic, $message->payload, $properties];
                }
            }
            echo serialize($received);
            PHP, var_export($options, true), $expect, var_export($filter, true), $expect), [], 60.0);
    }
}
