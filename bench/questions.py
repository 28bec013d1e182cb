"""The fixed questions every latency figure is taken on (kept here, not read from eval/, so the
benchmark does not move when the eval set grows)."""

# Retrieval and extractive answers: the kinds of question the assistant gets.
QUESTIONS = [
    "Which is better for real-time apps?",
    "Which is better for I/O performance, Node.js or Python?",
    "For CPU performance, which wins: Node.js or Python?",
    "Which should we pick for an AI/ML-heavy product?",
    "Is Node.js or Python easier to hire for?",
    "Which has the better ecosystem for data science?",
    "When should a startup choose Node.js?",
    "When should a startup choose Python?",
    "Which companies use Node.js in production?",
    "How does the Node.js event loop handle blocking work?",
    "What does Django's async support give us?",
    "How does FastAPI handle async endpoints?",
    "What is free-threaded Python?",
    "How do I avoid blocking the event loop in Node.js?",
    "Is a full-stack JavaScript team an argument for Node.js?",
    "What did PayPal report after switching to Node.js?",
    "Which is more secure out of the box, Django or Express?",
    "How should we debug asyncio code?",
    "What is the best pizza topping?",
    "Which scales better for microservices?",
]

# LLM engines: few runs fit the budget; three answerable questions of different shapes.
LLM_QUESTIONS = [
    "Which is better for real-time apps?",
    "Which should we pick for an AI/ML-heavy product?",
    "How do I avoid blocking the event loop in Node.js?",
]

# Start-up: the first question asked of a freshly started app.
FIRST_QUESTION = "Which is better for real-time apps?"
